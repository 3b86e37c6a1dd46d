"""The listener of servers.events: each event becomes delivery rows, nothing more.

It runs inside whoever emits (the job worker finishing a job, the supervisor), so
it only inserts; the sender loop does the HTTP later. A failure here is logged by
`events.emit` and never reaches the emitter.
"""

from django.db import transaction

from l4d2site.db import retry_locked
from streams import layer

from ..models import Delivery, Webhook
from . import payload

SENDERS = "automation.webhooks"  # the group every webhook sender loop listens to


@retry_locked(attempts=5)
@transaction.atomic  # a savepoint inside the emitter's transaction: a failure here never spoils it
def record_deliveries(sender, *, name, server, text, job=None, **kwargs):
    hooks = Webhook.objects.for_event(name, server)
    if not hooks:
        return 0
    body = payload.body(name, server, text, job)
    Delivery.objects.bulk_create([Delivery(webhook=hook, event=name, payload=body) for hook in hooks])
    transaction.on_commit(wake_senders)
    return len(hooks)


def wake_senders():
    """Wake the sender loops, in this process or another (a test sent from a web page)."""
    layer.publish(SENDERS, {"type": "webhooks.due"})
