"""A job's log as a live-stream source (DESIGN.md §4): its lines and its state frame."""

from streams.tail import Source

from .models import FINISHED_STATES, Job, JobLog
from .notify import job_group


class JobSource(Source):
    def __init__(self, job_id):
        self.job_id = job_id
        self.key = self.group = job_group(job_id)

    def read_lines(self, after, limit):
        rows = (
            JobLog.objects.filter(job_id=self.job_id, seq__gt=after)
            .order_by("seq")
            .values_list("seq", "stream", "line", "created_at")[:limit]
        )
        return [{"seq": s, "stream": st, "line": line, "at": at.isoformat()} for s, st, line, at in rows]

    def read_state(self):
        row = (
            Job.objects.filter(pk=self.job_id)
            .values("state", "exit_code", "started_at", "finished_at", "progress")
            .first()
        )
        if row is None:
            return None
        for key in ("started_at", "finished_at"):
            row[key] = row[key].isoformat() if row[key] else None
        return row

    def last_seq(self):
        return JobLog.objects.last_seq(self.job_id)

    def is_finished(self, state):
        return state is None or state["state"] in FINISHED_STATES
