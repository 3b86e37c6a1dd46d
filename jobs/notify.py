"""The channel-layer groups of the job system and the nudges sent to them (see streams.layer)."""

from streams import layer

WORKER_GROUP = "jobs.worker"  # every worker listens: a job was queued or a cancel asked for


def job_group(job_id):
    return f"job.{job_id}"


def notify_job(job_id, seq=None):
    """New log rows (up to `seq`) or a new state (no seq) for job_id: wake its tails now."""
    message = {"type": "job.changed"} if seq is None else {"type": "job.changed", "seq": seq}
    layer.publish(job_group(job_id), message)


def nudge_workers():
    """A job was queued or a cancel requested: wake the workers to look now."""
    layer.publish(WORKER_GROUP, {"type": "jobs.nudge"})
