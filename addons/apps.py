from django.apps import AppConfig


class AddonsConfig(AppConfig):
    name = "addons"
    verbose_name = "Addons"

    def ready(self):
        # servers never imports addons: the Workshop hooks itself into what servers offers.
        from jobs.models import JobKind
        from servers import events, l4d2_facade, maps

        from . import workshop

        l4d2_facade.OPERATIONS[JobKind.WORKSHOP] = workshop.operation
        l4d2_facade.TAKES_PARAMS.add(JobKind.WORKSHOP)
        maps.register_source(workshop.map_groups)
        events.server_event.connect(workshop.after_game_update, dispatch_uid="addons.workshop")
