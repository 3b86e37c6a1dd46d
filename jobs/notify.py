"""Cross-process nudges over the channel layer (Redis), best effort.

The database is the source of truth: every reader also polls it, so a lost or
impossible nudge (no Redis, Redis down) only costs latency, never a line.
Sends are fire-and-forget on one background event loop per process, so the
worker's hot path (a log flush) never waits on Redis.
"""

import asyncio
import logging
import threading

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings

log = logging.getLogger(__name__)

WORKER_GROUP = "jobs.worker"


def job_group(job_id):
    return f"job.{job_id}"


def new_layer():
    """A private channel layer instance: Redis layers are bound to the loop that uses them."""
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


class _Publisher:
    def __init__(self):
        self._lock = threading.Lock()
        self._loop = None
        self._layer = None

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._layer = new_layer()
                threading.Thread(target=self._loop.run_forever, name="channel-publisher", daemon=True).start()
        return self._loop

    def send(self, group, message):
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(self._layer.group_send(group, message), loop)
        future.add_done_callback(self._report)

    @staticmethod
    def _report(future):
        if not future.cancelled() and future.exception() is not None:
            log.warning("channel layer send failed: %s", future.exception())


_publisher = _Publisher()


def _send(group, message):
    if settings.REDIS_URL:  # the in-memory layer cannot reach other processes
        _publisher.send(group, message)


def notify_job(job_id):
    """New log rows or a new state for job_id: wake its tails now."""
    _send(job_group(job_id), {"type": "job.changed", "job_id": job_id})


def notify_cancel(job_id):
    """A cancel was requested: wake the worker that runs job_id."""
    _send(WORKER_GROUP, {"type": "job.cancel", "job_id": job_id})


def notify_enqueued(job_id):
    """A job was queued: wake the workers so one claims it now."""
    _send(WORKER_GROUP, {"type": "job.enqueued", "job_id": job_id})
