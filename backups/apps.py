from django.apps import AppConfig


class BackupsConfig(AppConfig):
    name = "backups"
    verbose_name = "Backups"

    def ready(self):
        from django.db.models.signals import post_delete

        from servers import l4d2_facade

        from . import operations, store
        from .models import Backup

        # However a backup row goes (deleted, or with its server), its archive follows.
        post_delete.connect(store.forget_archive, sender=Backup, dispatch_uid="backups.archive")

        # The worker runs these like the lifecycle kinds (servers/l4d2_facade.run): the facade
        # sits below this app, so the app hands it its operations.
        l4d2_facade.OPERATIONS.update(backup=operations.backup, restore=operations.restore)
        l4d2_facade.TAKES_PARAMS.update({"backup", "restore"})
        l4d2_facade.WARNED.add("restore")
