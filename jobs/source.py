"""A job's log as a live-stream source (DESIGN.md §4): its lines and its state frame."""

from streams.source import LineSource

from .models import FINISHED_STATES, Job, JobLog
from .notify import job_group


class JobSource(LineSource):
    lines = JobLog

    def __init__(self, job_id):
        super().__init__(job_id, job_group(job_id))

    def read_state(self):
        row = (
            Job.objects.filter(pk=self.owner_id)
            .values("state", "exit_code", "started_at", "finished_at", "progress")
            .first()
        )
        if row is None:
            return None
        for key in ("started_at", "finished_at"):
            row[key] = row[key].isoformat() if row[key] else None
        return row

    def is_finished(self, state):
        return state is None or state["state"] in FINISHED_STATES
