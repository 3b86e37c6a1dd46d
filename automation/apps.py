from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "automation"
    verbose_name = "Automation"

    def ready(self):
        from servers import events

        from .webhooks import receiver

        # Only inserts delivery rows; the sender loop does the HTTP (a slow receiver never delays a job).
        events.server_event.connect(receiver.record_deliveries, dispatch_uid="automation.webhooks")
