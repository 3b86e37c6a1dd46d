"""WebSocket transport of a job's log (DESIGN.md §4)."""

from asgiref.sync import sync_to_async

from streams.consumers import StreamConsumer

from .access import job_for_user
from .source import JobSource


class JobLogConsumer(StreamConsumer):
    async def get_source(self, user, job_id):
        job = await sync_to_async(job_for_user)(user, job_id)
        return JobSource(job.id)
