"""The channel-layer groups of the job system and the nudges sent to them (see streams.layer)."""

from streams import layer

WORKER_GROUP = "jobs.worker"  # every worker listens: a job was queued or a cancel asked for


def job_group(job_id):
    return f"job.{job_id}"


def notify_job(job_id):
    """New log rows or a new state for job_id: wake its tails now."""
    layer.publish(job_group(job_id), {"type": "job.changed"})


def nudge_workers():
    """A job was queued or a cancel requested: wake the workers to look now."""
    layer.publish(WORKER_GROUP, {"type": "jobs.nudge"})
