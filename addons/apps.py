from django.apps import AppConfig


class AddonsConfig(AppConfig):
    name = "addons"
    verbose_name = "Addons"

    def ready(self):
        from servers import l4d2_facade

        from . import sourcemod_job

        # The worker runs jobs through the facade; this app's kinds add themselves to it.
        l4d2_facade.OPERATIONS["sourcemod"] = sourcemod_job.run
        l4d2_facade.TAKES_PARAMS.add("sourcemod")
