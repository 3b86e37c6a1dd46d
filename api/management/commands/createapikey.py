"""`manage.py createapikey USERNAME --name NAME [--permission P ...] [--server ID ...]`: a new API
key for the user; the key itself is the last line printed (and is never shown again)."""

import ipaddress
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from api.models import ApiKey
from servers import permissions
from servers.models import Server


def permission(name):
    if name not in permissions.ALL:
        raise ValueError(name)
    return name


permission.__name__ = "permission name"


def network(text):
    ipaddress.ip_network(text, strict=False)
    return text


network.__name__ = "address or network"


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", required=True, help="what the key is for, e.g. discord-bot")
        parser.add_argument(
            "--permission",
            action="append",
            type=permission,
            default=[],
            help="a permission name (DESIGN.md §11); repeat for more (default: all the user holds)",
        )
        parser.add_argument(
            "--server", action="append", type=int, default=[], help="a server id (default: all)"
        )
        parser.add_argument(
            "--expires-days", type=int, default=None, help="days until it expires (default: never)"
        )
        parser.add_argument(
            "--allow-ip",
            action="append",
            type=network,
            default=[],
            help="an address or network it may come from",
        )

    def handle(self, *args, username, name, permission, server, expires_days, allow_ip, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user is called {username!r}.")
        servers = list(Server.objects.visible_to(user).filter(pk__in=server))
        missing = sorted(set(server) - {s.pk for s in servers})
        if missing:
            raise CommandError(f"{username} cannot see server(s) {', '.join(map(str, missing))}.")
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        key, secret = ApiKey.new(
            user,
            name,
            permission or sorted(permissions.ALL),
            servers,
            expires_at=expires,
            allowed_ips=allow_ip,
        )
        self.stdout.write(f"API key {key.name!r} ({key.lookup}…) for {username}; it is shown only now:")
        self.stdout.write(secret)
