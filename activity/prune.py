"""Deleting events older than L4D2_ACTIVITY_KEEP_DAYS: by the worker's daily prune (jobs/prune.py).

In small batches, each its own short transaction, like the job prune: on SQLite a
delete holds the one write lock, and logins and actions recording events must get it
between batches.
"""

import time
from datetime import timedelta

from django.utils import timezone

from l4d2site.db import retry_locked

from .models import Event

BATCH = 1000
PAUSE = 0.01


def prune(keep_days, *, now=None, batch=BATCH, pause=PAUSE):
    """Delete the events older than `keep_days` days; returns how many went."""
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    old = Event.objects.filter(at__lt=cutoff).order_by("id").values_list("id", flat=True)
    deleted = 0
    while ids := list(old[:batch]):
        deleted += _delete(ids)
        time.sleep(pause)
    return deleted


@retry_locked
def _delete(ids):
    return Event.objects.filter(pk__in=ids).delete()[0]
