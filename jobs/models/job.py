"""Jobs, their log lines, and every state transition of a job (DESIGN.md §2).

```
queued ──claim──> running ──exit 0──> succeeded
   │                 │   └──exit≠0──> failed
   │ cancel          │ cancel
   v                 v
cancelled <──── cancelling   (subprocess terminated because of the cancel)
```
Each transition below is one conditional UPDATE (`WHERE state = <expected>`) that
reports whether it won, so a cancel racing a claim, or two workers racing each
other, always has exactly one winner.
"""

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models, transaction
from django.db.models import Count, Min
from django.urls import reverse
from django.utils import timezone

import activity
from l4d2site.db import fetch, optional_user_fk, retry_locked, until_answered
from l4d2site.job_states import ACTIVE_STATES, CANCELLABLE_STATES, FINISHED_STATES
from servers import events
from servers.models import DesiredState, Server

from ..notify import notify_job, nudge_workers
from .choices import CancelOutcome, JobKind, JobState, JobTrigger, LogStream
from .log import JobLog

log = logging.getLogger(__name__)

CLAIM_CANDIDATES = 20  # servers tried per claim before giving up until the next poll

# What each kind asks of the game server; cancelling never reverts it.
DESIRED_STATE_FOR_KIND = {
    JobKind.START: DesiredState.RUNNING,
    JobKind.RESTART: DesiredState.RUNNING,
    JobKind.STOP: DesiredState.STOPPED,
}


# How each trigger reached the panel, as the activity log says it (the rest: "web").
VIA = {JobTrigger.SCHEDULE: "schedule", JobTrigger.MONITOR: "monitor"}


# What a row of the shared job table reads to draw it (jobs/_job_row.html, its Cancel button).
TABLE_FIELDS = (
    "server",
    "kind",
    "state",
    "requested_by__username",
    "created_at",
    "started_at",
    "finished_at",
    "updated_at",
)
# What a finished row's kept copy depends on (job_tags.row_key), read before the rows themselves:
# a table whose rows are all kept builds no job at all.
ROW_KEY_FIELDS = ("id", "state", "finished_at", "updated_at", "requested_by__username")
SERVER_ROW_KEY_FIELDS = ("server__name", "server__node__name", "server__node__last_heartbeat")
# The server column draws what its key holds, and asks the owner for the Cancel button's check.
SERVER_COLUMN_FIELDS = (*SERVER_ROW_KEY_FIELDS, "server__owner")


class JobQuerySet(models.QuerySet):
    def queued(self):
        return self.filter(state=JobState.QUEUED)

    def active(self):
        return self.filter(state__in=ACTIVE_STATES)

    def visible_to(self, user):
        """Jobs of the servers `user` may see (owner, member, staff)."""
        if user.is_staff:
            return self
        return self.filter(server__in=Server.objects.visible_to(user))

    def for_table(self, server_column=True):
        """What the shared job table draws (jobs/_job_row.html, its Cancel button) and no more, in
        one query, for the rows not kept (`row_keys`): building 50 whole jobs, their requesters
        and servers was most of a page of history. Without the server column (one server's history, through
        `server.jobs`, which hands each job its server) no server is read."""
        related, fields = ("requested_by",), TABLE_FIELDS
        if server_column:
            related, fields = ("server__node", *related), (*fields, *SERVER_COLUMN_FIELDS)
        return self.select_related(*related).only(*fields).order_by("-id")

    def row_keys(self, server_column=True):
        """What each row of the job table depends on (`ROW_KEY_FIELDS`), newest first, as named
        tuples with the job's `id`: 10 of them cost half of 10 jobs built for the table."""
        fields = (*ROW_KEY_FIELDS, *SERVER_ROW_KEY_FIELDS) if server_column else ROW_KEY_FIELDS
        return self.order_by("-id").values_list(*fields, named=True)

    @retry_locked
    def claim(self, *, node_name, worker, after_owner=0):
        """queued -> running: the next job of the next owner in turn, or None.

        Fair across owners: each server's oldest claimable job is a candidate (so
        jobs of one server still run one at a time in FIFO order); owners with fewer
        running jobs go first, then round-robin by owner id after `after_owner`
        (whom this worker served last), then the oldest job. So one owner's 8 queued
        installs never make another owner wait behind all of them.

        On SQLite the IMMEDIATE transaction serialises claimers outright. On
        PostgreSQL each candidate's server row is locked with SKIP LOCKED, so two
        workers never claim for the same server at once and never wait on each
        other; the final update is conditional, so a cancel that got there first wins.
        """
        mine = {"server__in": Server.objects.on_node(node_name).values("pk")}
        with transaction.atomic():
            busy = Job.objects.active().values("server_id")
            claimable = self.queued().filter(**mine).exclude(server_id__in=busy).order_by()
            firsts = list(claimable.values("server_id", "server__owner").annotate(job_id=Min("id")))
            if not firsts:
                return None
            owners = {row["server__owner"] for row in firsts}
            running = _per_owner(Job.objects.active().filter(server__owner__in=owners), Count("id"))

            def turn(row):
                owner = row["server__owner"]
                return (running.get(owner, 0), owner <= after_owner, owner, row["job_id"])

            for row in sorted(firsts, key=turn)[:CLAIM_CANDIDATES]:
                job_id, server_id = row["job_id"], row["server_id"]
                if not Server.objects.select_for_update(skip_locked=True).filter(pk=server_id).exists():
                    continue  # another worker is claiming for this server right now
                if Job.objects.active().filter(server_id=server_id).exists():
                    continue
                now = timezone.now()
                won = self.filter(pk=job_id, state=JobState.QUEUED).update(
                    state=JobState.RUNNING, started_at=now, updated_at=now, claimed_by=worker
                )
                if won:
                    notify_job(job_id)
                    return Job.objects.select_related("server", "requested_by").get(pk=job_id)
        return None


def _per_owner(jobs, aggregate):
    """{server owner id: aggregate} over `jobs`."""
    rows = jobs.order_by().values("server__owner").annotate(value=aggregate)
    return {row["server__owner"]: row["value"] for row in rows}


def counts_against_owner(user, trigger):
    """Whether a new job must fit in its server owner's queue limit.

    A person who is not staff, and the owner's schedules (300 schedules must not queue 300
    jobs behind the limit's back). Staff and the monitor's crash restarts and updates are exempt.
    """
    if user is not None:
        return not user.is_staff
    return trigger == JobTrigger.SCHEDULE


class QueueFull(Exception):
    """An owner has L4D2_MAX_QUEUED_PER_OWNER jobs waiting already (HTTP 429)."""


class Job(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=16, choices=JobKind.choices)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.QUEUED)
    requested_by = optional_user_fk()
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    exit_code = models.IntegerField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_by = optional_user_fk()
    # Someone asked to go on now: the worker ends the players' warning early (like a cancel,
    # the web process only writes the row; the worker on the game host acts on it).
    hurry_requested_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=8, choices=JobTrigger.choices, default=JobTrigger.USER)
    # The job this one re-runs, or the previous link of a crash-restart chain.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    # The whole job's progress in percent, while hostctl reports one (steamcmd downloads).
    progress = models.PositiveSmallIntegerField(null=True, blank=True)
    # "host:pid:start-time" of the worker process that claimed the job, so a
    # restarted worker can tell its dead predecessor's jobs from a live peer's.
    claimed_by = models.CharField(max_length=200, blank=True, default="")
    # What the kind needs beyond the server (which backup to restore, which Workshop items...),
    # plain JSON the worker hands to the operation. A re-run copies its parent's.
    params = models.JSONField(default=dict, blank=True)

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            # A server's history, newest first, and "does this server have an active job".
            models.Index(fields=["server", "-id"], name="job_server_newest"),
            # The queue: oldest queued first; the admin's state filter.
            models.Index(fields=["state", "id"], name="job_state_fifo"),
            # The job in progress on a server, and its last install or update (Start's rule):
            # on the history index alone both read every job since (200,000 restarts: 62 ms a page).
            models.Index(fields=["server", "state"], name="job_server_state"),
            # With the id, so "the newest of a kind" is one step down it (not PostgreSQL walking
            # the whole table backwards by id for a kind the server never ran).
            models.Index(fields=["server", "kind", "-id"], name="job_server_kind"),
            # What became of the restart the monitor queued for a server's last crash.
            models.Index(fields=["server", "trigger", "created_at"], name="job_server_monitor"),
        ]

    duplicate = False  # set by enqueue when it returned an identical queued job

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
    def reruns(self):
        """Ids of the jobs that re-ran this one, oldest first: a statement, as every job page
        asks (through the ORM this was a tenth of the page)."""
        sql = f'SELECT id FROM {self._meta.db_table} WHERE parent_id = %s AND "trigger" = %s ORDER BY id'
        return [pk for (pk,) in fetch(sql, (self.pk, JobTrigger.RETRY))]

    @property
    def duration(self):
        if not self.started_at:
            return None
        return (self.finished_at or timezone.now()) - self.started_at

    # --- transitions -----------------------------------------------------------

    @classmethod
    def enqueue(
        cls,
        server,
        kind,
        user,
        *,
        trigger=JobTrigger.USER,
        parent=None,
        request=None,
        detail=None,
        params=None,
    ):
        """-> queued; the server's desired state follows what the kind asks for.

        `params` (JSON) says what the kind works on; without it a re-run (`parent`) takes
        its parent's. The same kind with the same params already queued for the server is
        returned instead (a double click queues one job), with `duplicate` set. The owner may have at most
        L4D2_MAX_QUEUED_PER_OWNER jobs queued on their servers, counting their own and
        their schedules' (not staff's, not the monitor's): QueueFull.
        `user` is None for jobs the panel starts itself (`trigger` says why).
        A new job is an activity event (`job.enqueued`, `job.retried`) with `detail` added,
        from the `request`'s address; a duplicate is not (nothing changed).
        A person starting a server (not the monitor, not a schedule) also resumes
        automatic restarts that a crash loop paused (servers/crashes.py).
        """
        with transaction.atomic():
            # Every enqueue on this owner's servers waits its turn on the owner's row, so the
            # duplicate check and the count below see every job queued before this one. Under
            # PostgreSQL's READ COMMITTED, 20 concurrent clicks otherwise all read "nothing
            # queued" and insert (SQLite's IMMEDIATE transactions serialise writers anyway).
            # One lock per owner serves both checks; a partial unique index would cover only
            # the duplicates, and an advisory lock has no SQLite twin.
            get_user_model().objects.select_for_update().filter(pk=server.owner_id).exists()
            if params is None:
                params = parent.params if parent is not None else {}
            same = cls.objects.queued().filter(server=server, kind=kind, params=params).order_by("id").first()
            if same is not None:
                same.duplicate = True
                return same
            if counts_against_owner(user, trigger):
                waiting = cls.objects.queued().filter(server__owner_id=server.owner_id).count()
                if waiting >= settings.MAX_QUEUED_PER_OWNER:
                    raise QueueFull(
                        f"{waiting} jobs are already waiting on your servers; the limit is "
                        f"{settings.MAX_QUEUED_PER_OWNER}. Wait for some to run, or cancel some."
                    )
            job = cls.objects.create(
                server=server, kind=kind, requested_by=user, trigger=trigger, parent=parent, params=params
            )
            desired = DESIRED_STATE_FOR_KIND.get(kind)
            if desired:
                fields = {"desired_state": desired, "updated_at": timezone.now()}
                if desired == DesiredState.RUNNING and trigger in (JobTrigger.USER, JobTrigger.RETRY):
                    fields["autorestart_paused_at"] = None
                Server.objects.filter(pk=server.pk).update(**fields)
            job._record_enqueued(request, detail)
            transaction.on_commit(nudge_workers)
        return job

    def _record_enqueued(self, request, detail):
        retry = self.trigger == JobTrigger.RETRY
        detail = {"kind": self.kind, "job": self.pk, **(detail or {})}
        if retry:
            detail["rerun_of"] = self.parent_id
        activity.record(
            "job.retried" if retry else "job.enqueued",
            actor=self.requested_by,
            via=VIA.get(self.trigger, "web"),
            server=self.server,
            request=request,
            detail=detail,
        )

    def request_cancel(self, user, *, request=None):
        """Cancel a queued job, or ask the worker to stop a running one (a `job.cancelled` event)."""
        now = timezone.now()
        who = user.get_username() if user else "the system"
        # The claim lost if this wins, so no worker writes this job's log: we may append.
        if _move_and_log(
            self,
            JobState.QUEUED,
            JobState.CANCELLED,
            (LogStream.STDERR, f"Cancelled by {who} before execution."),
            then=lambda: self._record_cancel(user, request, JobState.QUEUED),
            finished_at=now,
            exit_code=1,
            cancel_requested_at=now,
            cancel_requested_by=user,
        ):
            notify_job(self.pk)
            return CancelOutcome.CANCELLED
        if _move_and_log(
            self,
            JobState.RUNNING,
            JobState.CANCELLING,
            None,
            then=lambda: self._record_cancel(user, request, JobState.RUNNING),
            cancel_requested_at=now,
            cancel_requested_by=user,
        ):
            notify_job(self.pk)
            nudge_workers()
            return CancelOutcome.CANCELLING
        state = Job.objects.filter(pk=self.pk).values_list("state", flat=True).first()
        if state == JobState.CANCELLING:
            return CancelOutcome.ALREADY_CANCELLING
        # queued/running again is impossible: nothing moves a job back to those states.
        return CancelOutcome.FINISHED

    def _record_cancel(self, user, request, was):
        detail = {"kind": self.kind, "job": self.pk, "was": was}
        activity.record("job.cancelled", actor=user, server=self.server, request=request, detail=detail)

    def request_hurry(self):
        """Ask the worker to end the players' warning now; False once the job is not running."""
        now = timezone.now()
        won = Job.objects.filter(pk=self.pk, state=JobState.RUNNING, hurry_requested_at__isnull=True).update(
            hurry_requested_at=now, updated_at=now
        )
        if won:
            notify_job(self.pk)
            nudge_workers()
            return True
        return Job.objects.filter(pk=self.pk, state=JobState.RUNNING).exists()

    def finish(self, code, *, cancelled, say):
        """running/cancelling -> succeeded/failed/cancelled, by the worker that ran it.

        `cancelled`: the command was stopped by our cancel. `say(text)` writes a system
        line and waits for it to be stored (lines must precede the final state: a
        viewer that reads a finished state reads no more lines).

        The job's real outcome is recorded whatever the database does meanwhile: each
        step waits for the database to answer (until_answered), and a step whose answer
        an outage swallowed after it committed is recognised by the state it left.
        """
        outcome = JobState.SUCCEEDED if code == 0 else JobState.FAILED
        fields = {"exit_code": code, "finished_at": timezone.now()}
        # running -> outcome only if nobody asked to cancel meanwhile (one winner).
        final = until_answered(lambda: self._close(JobState.RUNNING, outcome, fields))
        if final is None:
            final = JobState.CANCELLED if cancelled else outcome
            if not cancelled:
                say("A cancel was requested, but the command had already ended: the job keeps its outcome.")
            final = until_answered(lambda: self._close(JobState.CANCELLING, final, fields))
        notify_job(self.pk)
        self.state = final
        return final

    def _close(self, expected, final, fields):
        """expected -> final with the announcement, in one transaction. The final state if the
        job is finished now (by this call, or by an earlier one whose answer was lost), None if
        it is still active in another state."""
        with transaction.atomic():
            if _update(self.pk, expected, final, **fields):
                self.state = final
                self._announce()
                return final
            state = Job.objects.filter(pk=self.pk).values_list("state", flat=True).first()
        return state if state in FINISHED_STATES else None

    def abandon(self, message):
        """running/cancelling -> failed (cancelled if a cancel was asked), its worker being gone.

        `message` may contain "{state}". Returns whether this call won.
        """
        final = JobState.CANCELLED if self.cancel_requested_at else JobState.FAILED
        # The winner alone writes the line, so seq stays gap-free.
        line = (LogStream.SYSTEM, message.format(state=final))
        won = _move_and_log(self, self.state, final, line, finished_at=timezone.now())
        if won:
            log.warning("job %s abandoned: marked %s", self.pk, final)
            notify_job(self.pk)
        return won

    def _announce(self):
        """job.succeeded / job.failed for whoever listens (a cancel is a person's choice, not news)."""
        if self.state in (JobState.SUCCEEDED, JobState.FAILED):
            verb = "succeeded" if self.state == JobState.SUCCEEDED else "failed"
            text = f"{self.get_kind_display()} of {self.server.name} {verb} (job #{self.pk})."
            events.emit(f"job.{verb}", self.server, text, job=self)

    def append_log(self, stream, line):
        """Append one line outside the worker's sink (cancel, recovery).

        Only safe when no worker is writing this job's log, which the caller's
        winning conditional update guarantees.
        """
        JobLog.objects.create(job=self, seq=JobLog.objects.last_seq(self.pk) + 1, stream=stream, line=line)


def _update(job_id, expected, new, **fields):
    """The one conditional UPDATE every transition is made of; True if it won."""
    now = timezone.now()
    return bool(Job.objects.filter(pk=job_id, state=expected).update(state=new, updated_at=now, **fields))


@retry_locked
def _move_and_log(job, expected, new, log_line, *, then=None, **fields):
    """A transition, the log line that explains it (if any), its announcement and `then()`
    (its activity event), in one transaction."""
    with transaction.atomic():
        won = _update(job.pk, expected, new, **fields)
        if won:
            if log_line:
                job.append_log(*log_line)
            job.state = new
            job._announce()
            if then is not None:
                then()
    return won
