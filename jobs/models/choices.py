"""The vocabularies of the job system: kinds, states, triggers, log streams, cancel outcomes."""

from django.db import models


class JobKind(models.TextChoices):
    INSTALL = "install", "Install"
    "Download and validate the game files with steamcmd."
    UPDATE = "update", "Update"
    "Bring an installed server up to date with steamcmd."
    START = "start", "Start"
    "Launch srcds, detached, so it outlives the job."
    STOP = "stop", "Stop"
    "Ask srcds to quit, then terminate it."
    RESTART = "restart", "Restart"
    "Stop, then start."
    WORKSHOP = "workshop", "Workshop"
    "Add, update or remove Steam Workshop items (Job.params says which)."


# The kinds with a button of their own on the server page; the others work on what their
# Job.params name and are queued from their own pages (a re-run copies the params).
LIFECYCLE_KINDS = (JobKind.INSTALL, JobKind.UPDATE, JobKind.START, JobKind.STOP, JobKind.RESTART)


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    "Waiting for a worker; may be cancelled before it runs."
    RUNNING = "running", "Running"
    "A worker claimed it and its command is running."
    CANCELLING = "cancelling", "Cancelling"
    "Cancel requested while running; the worker is terminating the process tree."
    SUCCEEDED = "succeeded", "Succeeded"
    "The command exited 0."
    FAILED = "failed", "Failed"
    "The command exited non-zero, raised, or its worker died."
    CANCELLED = "cancelled", "Cancelled"
    "Stopped by a cancel, before or while running."


class JobTrigger(models.TextChoices):
    USER = "user", "User"
    "Someone pressed a button (or called the URL)."
    SCHEDULE = "schedule", "Schedule"
    "A schedule of the server came due."
    MONITOR = "monitor", "Monitor"
    "The supervisor restarts a server that crashed, or applies a game update."
    RETRY = "retry", "Re-run"
    "Someone re-ran a finished job (`parent` is the job it re-runs)."


class LogStream(models.TextChoices):
    STDOUT = "stdout", "stdout"
    "What the command printed on standard output."
    STDERR = "stderr", "stderr"
    "What the command printed on standard error, and panel errors about the job."
    SYSTEM = "system", "system"
    "Notes from the worker: what ran, signals sent, exit code, duration."
    PHASE = "phase", "phase"
    "A step of the job begins here (its title): the job page folds the log by these."


class CancelOutcome(models.TextChoices):
    CANCELLED = "cancelled", "The job was cancelled before it ran."
    "It was queued; no worker will ever run it."
    CANCELLING = "cancelling", "Cancel requested: the worker is stopping the job."
    "It was running; the worker will terminate its process tree."
    ALREADY_CANCELLING = "already_cancelling", "A cancel was already requested; nothing changed."
    "A repeated cancel changes nothing."
    FINISHED = "finished", "The job has already finished; nothing changed."
    "Too late: finished jobs cannot be cancelled (HTTP 409)."
