from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save


class ServersConfig(AppConfig):
    name = "servers"
    verbose_name = "Game servers"

    def ready(self):
        from .team.signals import membership_changed

        # However a membership changes (a page, the admin, the API), the member's open
        # streams check again at once.
        for signal in (post_save, post_delete):
            signal.connect(membership_changed, sender="servers.ServerMember", dispatch_uid=f"team-{signal}")
