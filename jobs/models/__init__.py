"""Models of the job system; `job.py` holds every state transition of a job."""

from l4d2site.job_states import ACTIVE_STATES, CANCELLABLE_STATES, FINISHED_STATES

from .choices import LIFECYCLE_KINDS, CancelOutcome, JobKind, JobState, JobTrigger, LogStream
from .job import Job, JobQuerySet
from .log import JobLog
from .worker import WorkerProcess

__all__ = [
    "ACTIVE_STATES",
    "CANCELLABLE_STATES",
    "FINISHED_STATES",
    "LIFECYCLE_KINDS",
    "CancelOutcome",
    "Job",
    "JobKind",
    "JobLog",
    "JobQuerySet",
    "JobState",
    "JobTrigger",
    "LogStream",
    "WorkerProcess",
]
