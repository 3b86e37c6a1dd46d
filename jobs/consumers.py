"""WebSocket transport of a job's log (DESIGN.md §4)."""

from asgiref.sync import sync_to_async

from streams.consumers import StreamConsumer

from .access import check_job_visible
from .source import JobSource


class JobLogConsumer(StreamConsumer):
    async def get_source(self, user, job_id):
        # Off the shared sync thread: handshakes arriving together check in parallel.
        await sync_to_async(check_job_visible, thread_sensitive=False)(user, job_id)
        return JobSource(job_id)
