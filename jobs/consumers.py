"""WebSocket transport of a job's log (DESIGN.md §4)."""

from functools import partial

from channels.db import DatabaseSyncToAsync

from l4d2site import singleflight
from servers.access import amay
from streams.consumers import StreamConsumer

from .access import check_job_visible
from .source import JobSource

_check_job_visible = DatabaseSyncToAsync(check_job_visible, thread_sensitive=False)


class JobLogConsumer(StreamConsumer):
    async def get_source(self, user, job_id):
        # Off the shared sync thread, and one check for a crowd of one user's viewers
        # arriving together (what the check reads of the user is in the key).
        key = ("job-visible", job_id, user.pk, user.is_staff)
        server_id = await singleflight.shared(key, partial(_check_job_visible, user, job_id))
        # A member removed from the server stops following its jobs' logs at once.
        self.watch(server_id, partial(amay, user, server_id, "server.read"))
        return JobSource(job_id)
