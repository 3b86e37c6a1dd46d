from django.conf import settings
from django.db import models, transaction
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from servers.models import DesiredState, Server

from .notify import notify_cancel, notify_enqueued


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


ACTIVE_STATES = (JobState.RUNNING, JobState.CANCELLING)
FINISHED_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
CANCELLABLE_STATES = (JobState.QUEUED, JobState.RUNNING)

# What each kind asks of the game server; cancelling never reverts it.
DESIRED_STATE_FOR_KIND = {
    JobKind.START: DesiredState.RUNNING,
    JobKind.RESTART: DesiredState.RUNNING,
    JobKind.STOP: DesiredState.STOPPED,
}


class JobQuerySet(models.QuerySet):
    def queued(self):
        return self.filter(state=JobState.QUEUED)

    def active(self):
        return self.filter(state__in=ACTIVE_STATES)

    def visible_to(self, user):
        if user.is_staff:
            return self
        return self.filter(server__owner=user)

    def for_table(self):
        """Everything the shared job table shows, in a fixed number of queries."""
        return self.select_related("server", "server__node", "requested_by", "cancel_requested_by").order_by(
            "-id"
        )


class Job(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    exit_code = models.IntegerField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # "host:pid:start-time" of the worker process that claimed the job, so a
    # restarted worker can tell its dead predecessor's jobs from a live peer's.
    claimed_by = models.CharField(max_length=200, blank=True, default="")

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # A server's history, newest first, and "does this server have an active job".
            models.Index(fields=["server", "-id"], name="job_server_newest"),
            # The queue: oldest queued first; the admin's state filter.
            models.Index(fields=["state", "id"], name="job_state_fifo"),
        ]

    def __str__(self):
        return f"#{self.id} {self.kind} {self.server.name}"

    def get_absolute_url(self):
        return reverse("jobs:detail", args=[self.id])

    @property
    def is_finished(self):
        return self.state in FINISHED_STATES

    @property
    def is_cancellable(self):
        return self.state in CANCELLABLE_STATES

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    @classmethod
    def enqueue(cls, server, kind, user):
        with transaction.atomic():
            job = cls.objects.create(server=server, kind=kind, requested_by=user)
            desired = DESIRED_STATE_FOR_KIND.get(kind)
            if desired:
                Server.objects.filter(pk=server.pk).update(desired_state=desired, updated_at=timezone.now())
            transaction.on_commit(lambda: notify_enqueued(job.id))
        return job

    def next_seq(self):
        return (self.logs.aggregate(m=Max("seq"))["m"] or 0) + 1

    def append_log(self, stream, line):
        """Append one line outside the worker's batched sink (cancel, recovery).

        Only safe when no worker is writing this job's log, which the caller's
        winning conditional update guarantees.
        """
        JobLog.objects.create(job=self, seq=self.next_seq(), stream=stream, line=line)


class LogStream(models.TextChoices):
    STDOUT = "stdout", "stdout"
    "What the command printed on standard output."
    STDERR = "stderr", "stderr"
    "What the command printed on standard error, and panel errors about the job."
    SYSTEM = "system", "system"
    "Notes from the worker: what ran, signals sent, exit code, duration."


class JobLog(models.Model):
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="logs", db_index=False)
    seq = models.PositiveIntegerField()
    stream = models.CharField(max_length=6, choices=LogStream.choices)
    line = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [
            # Doubles as the (job, seq) index every log read and tail uses.
            models.UniqueConstraint(fields=["job", "seq"], name="joblog_job_seq"),
        ]

    def __str__(self):
        return f"{self.job_id}:{self.seq} [{self.stream}] {self.line[:80]}"


class CancelOutcome(models.TextChoices):
    CANCELLED = "cancelled", "The job was cancelled before it ran."
    "It was queued; no worker will ever run it."
    CANCELLING = "cancelling", "Cancel requested: the worker is stopping the job."
    "It was running; the worker will terminate its process tree."
    ALREADY_CANCELLING = "already_cancelling", "A cancel was already requested; nothing changed."
    "A repeated cancel changes nothing."
    FINISHED = "finished", "The job has already finished; nothing changed."
    "Too late: finished jobs cannot be cancelled (HTTP 409)."


def request_cancel(job_id, user):
    """Cancel a queued job, or ask the worker to stop a running one.

    Each step is a conditional UPDATE on the state the job had: a cancel racing a
    claim (or a finishing worker) has exactly one winner, whatever the timing.
    """
    now = timezone.now()
    with transaction.atomic():
        won = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
            state=JobState.CANCELLED,
            finished_at=now,
            updated_at=now,
            exit_code=1,
            cancel_requested_at=now,
            cancel_requested_by=user,
        )
        if won:
            # The claim lost, so no worker writes this job's log: we may append.
            job = Job.objects.get(pk=job_id)
            who = user.get_username() if user else "the system"
            job.append_log(LogStream.STDERR, f"Cancelled by {who} before execution.")
            return CancelOutcome.CANCELLED
    won = Job.objects.filter(pk=job_id, state=JobState.RUNNING).update(
        state=JobState.CANCELLING,
        cancel_requested_at=now,
        cancel_requested_by=user,
        updated_at=now,
    )
    if won:
        notify_cancel(job_id)
        return CancelOutcome.CANCELLING
    state = Job.objects.filter(pk=job_id).values_list("state", flat=True).first()
    if state == JobState.CANCELLING:
        return CancelOutcome.ALREADY_CANCELLING
    # queued/running again is impossible: nothing moves a job back to those states.
    return CancelOutcome.FINISHED
