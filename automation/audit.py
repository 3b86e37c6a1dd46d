"""Schedules and webhooks in the activity log (`schedule.created`, `webhook.deleted`, ...).

Each model says what of it is kept (`activity_detail`): never a webhook URL's path,
which is its secret (Discord's token is in it), only its host.
"""

import activity

HIDDEN = ("url",)  # a changed URL is named, never valued


def record(obj, verb, request, *, form=None, **extra):
    """One event about `obj` (a Schedule or Webhook), on its server (None: all servers)."""
    kind = obj._meta.model_name
    detail = {kind: obj.pk, **obj.activity_detail(), **extra}
    if form is not None:
        detail.update(activity.changes(form, hidden=HIDDEN))
    activity.record(f"{kind}.{verb}", request=request, server=obj.server, detail=detail)
