from django.apps import AppConfig


class AddonsConfig(AppConfig):
    name = "addons"
    verbose_name = "Addons"

    def ready(self):
        # servers never imports addons: this app's job kinds, map source and hooks add
        # themselves to what servers offers (the worker runs jobs through l4d2_facade).
        from jobs.models import JobKind
        from servers import events, l4d2_facade, maps

        from . import sourcemod_job, workshop

        l4d2_facade.OPERATIONS[JobKind.SOURCEMOD] = sourcemod_job.run
        l4d2_facade.OPERATIONS[JobKind.WORKSHOP] = workshop.operation
        l4d2_facade.TAKES_PARAMS.update((JobKind.SOURCEMOD, JobKind.WORKSHOP))
        maps.register_source(workshop.map_groups)
        events.server_event.connect(workshop.after_game_update, dispatch_uid="addons.workshop")
