"""The sets of job states the apps ask about, defined once (values of jobs.models.JobState).

Here rather than in jobs because servers (below jobs: imports point down) asks too:
whether a server has a job running, or one waiting.
"""

ACTIVE_STATES = ("running", "cancelling")  # a worker holds it
UNFINISHED_STATES = ("queued", *ACTIVE_STATES)
FINISHED_STATES = ("succeeded", "failed", "cancelled")
CANCELLABLE_STATES = ("queued", "running")
