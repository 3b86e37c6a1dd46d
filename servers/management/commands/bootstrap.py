import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from l4d2site.files import private_file
from servers.models import Server

DEMO_PORT = 27015


class Command(BaseCommand):
    help = (
        "First-run setup for `make run`: create an admin account if there is none "
        "(password printed once and kept in the data dir), and in simulated mode a demo server."
    )

    def handle(self, *args, **options):
        User = get_user_model()
        password_file = settings.DATA_DIR / "admin-password.txt"
        admin = User.objects.filter(is_superuser=True).order_by("id").first()
        if admin is None:
            password = secrets.token_urlsafe(12)
            admin = User.objects.create_superuser("admin", password=password)
            private_file(password_file, f"username: admin\npassword: {password}\n")
            # Printed once, on the run that created it; afterwards only the owner of the data dir can read it.
            self.stdout.write(
                self.style.SUCCESS(f"Created the admin account: username admin, password {password}")
            )
            self.stdout.write(f"(also kept, readable only by you, in {password_file})")
        else:
            self.stdout.write(
                f"Log in as {admin.get_username()} (the first admin's password is in {password_file})."
            )
        if settings.HOSTCTL_SIMULATE and not Server.objects.exists():
            Server.objects.create(owner=admin, name="Demo server", port=DEMO_PORT)
            self.stdout.write(f"Created a demo server on UDP port {DEMO_PORT}: press Install on its page.")
