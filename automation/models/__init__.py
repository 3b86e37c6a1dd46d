"""Models of the automation app: update bookkeeping, schedules and their runs, webhooks and deliveries."""

from .schedules import Schedule, ScheduleAction, ScheduleRun
from .updates import ServerUpdate, UpdateCheck
from .webhooks import Delivery, DeliveryAttempt, DeliveryState, Webhook, WebhookEvent

__all__ = [
    "Delivery",
    "DeliveryAttempt",
    "DeliveryState",
    "Schedule",
    "ScheduleAction",
    "ScheduleRun",
    "ServerUpdate",
    "UpdateCheck",
    "Webhook",
    "WebhookEvent",
]
