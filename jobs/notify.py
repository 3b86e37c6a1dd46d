"""Cross-process nudges over the channel layer (Redis), best effort.

The database is the source of truth: every reader also polls it, so a lost or
impossible nudge (no Redis, Redis down) only costs latency, never a line.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings

log = logging.getLogger(__name__)

WORKER_GROUP = "jobs.worker"


def job_group(job_id):
    return f"job.{job_id}"


def _send(group, message):
    if not settings.REDIS_URL:
        return  # the in-memory layer cannot reach other processes
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception as exc:  # Redis away: readers fall back to polling
        log.warning("channel layer send to %s failed: %s", group, exc)


def notify_job(job_id):
    """New log rows or a new state for job_id: wake its tails now."""
    _send(job_group(job_id), {"type": "job.changed", "job_id": job_id})


def notify_cancel(job_id):
    """A cancel was requested: wake the worker that runs job_id."""
    _send(WORKER_GROUP, {"type": "job.cancel", "job_id": job_id})


def notify_enqueued(job_id):
    """A job was queued: wake the workers so one claims it now."""
    _send(WORKER_GROUP, {"type": "job.enqueued", "job_id": job_id})
