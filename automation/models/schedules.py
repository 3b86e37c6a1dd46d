"""Schedules: a server's recurring action (cron expression in a time zone) and the history of its runs."""

from datetime import datetime
from zoneinfo import ZoneInfo

from cron_descriptor import get_description
from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils.timezone import now as current_time

from jobs.models import Job
from l4d2site.db import retry_locked
from servers.models import Server

from .. import limits
from ..validators import validate_console_command, validate_cron, validate_time_zone

RUNS_KEPT = 200  # run history kept per schedule; older runs are deleted as new ones come


class ScheduleAction(models.TextChoices):
    RESTART = "restart", "Restart"
    "Stop and start the server (skipped while it is meant to be stopped)."
    UPDATE = "update", "Update"
    "Update the game files; a running server is warned, stopped, updated and started again."
    START = "start", "Start"
    "Start the server."
    STOP = "stop", "Stop"
    "Stop the server."
    COMMAND = "command", "Console command"
    "Send a command line to the running server's console."
    WORKSHOP_UPDATE = "workshop_update", "Update Workshop items"
    "Download the Workshop items Steam has a newer version of (skipped when there are none)."
    BACKUP = "backup", "Backup"
    "Back up the server's files; at its backup limit, the oldest unlocked backup goes."


class Schedule(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="schedules")
    name = models.CharField(max_length=64, blank=True, help_text="Optional, e.g. “Nightly restart”.")
    cron = models.CharField(
        "cron expression",
        max_length=100,
        validators=[validate_cron],
        help_text="minute hour day-of-month month day-of-week, e.g. 0 5 * * * (05:00 every day).",
    )
    # (django.utils.timezone is imported as current_time: this field's name would shadow it.)
    timezone = models.CharField("time zone", max_length=64, default="UTC", validators=[validate_time_zone])
    action = models.CharField(max_length=16, choices=ScheduleAction.choices, default=ScheduleAction.RESTART)
    command = models.CharField(
        max_length=512,
        blank=True,
        validators=[validate_console_command],
        help_text="For the console command action: the line to send, e.g. say Restart in 5 minutes.",
    )
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_run_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["server", "id"]
        indexes = [
            # The scheduler's question, every few seconds: which enabled schedules are due.
            models.Index(fields=["next_run_at"], condition=models.Q(enabled=True), name="schedule_due"),
        ]

    def __str__(self):
        return self.name or f"{self.get_action_display()} at {self.cron}"

    def get_absolute_url(self):
        return reverse("automation:schedule", args=[self.server_id, self.id])

    def activity_detail(self):
        """What the activity log keeps of it (automation/audit.py)."""
        return {"name": str(self)}

    def clean(self):
        if self.action == ScheduleAction.COMMAND and not self.command.strip():
            raise ValidationError({"command": "Type the console command this schedule sends."})
        if self.action != ScheduleAction.COMMAND:
            self.command = ""
        self.check_limit()

    def check_limit(self):
        """ValidationError if this schedule is one more than its server may have."""
        limits.check_schedule(self)

    @property
    def description(self):
        """The cron expression in words ("At 05:00 AM"), for people."""
        try:
            return get_description(self.cron)
        except Exception:  # cron-descriptor raises its own hierarchy; the expression stays readable
            return self.cron

    def next_after(self, moment):
        """The first slot strictly after `moment`, in the schedule's time zone (DST included)."""
        zone = ZoneInfo(self.timezone)
        return croniter(self.cron, moment.astimezone(zone)).get_next(datetime)

    def next_runs(self, count, now=None):
        """The next `count` slots after now, in the schedule's time zone."""
        runs, moment = [], now or current_time()
        for _ in range(count):
            moment = self.next_after(moment)
            runs.append(moment)
        return runs

    def reschedule(self, now=None):
        """Set next_run_at from now: the next slot, or None while disabled. (Caller saves.)"""
        self.next_run_at = self.next_after(now or current_time()) if self.enabled else None

    @retry_locked
    def claim(self, due_at, next_run_at):
        """Take the run due at `due_at`, moving the schedule on to `next_run_at`; True if this call won.

        The update only matches while next_run_at is still `due_at`, so of several
        workers (or a person editing the schedule meanwhile) exactly one wins.
        """
        return bool(
            Schedule.objects.filter(pk=self.pk, enabled=True, next_run_at=due_at).update(
                next_run_at=next_run_at, last_run_at=current_time()
            )
        )


class ScheduleRun(models.Model):
    """One run of a schedule: the job it queued, or what became of its console command."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs")
    job = models.ForeignKey(
        Job, null=True, blank=True, on_delete=models.SET_NULL, related_name="schedule_runs"
    )
    due_at = models.DateTimeField(help_text="The slot it ran for (before its start if the slot was missed).")
    started_at = models.DateTimeField(default=current_time)
    action = models.CharField(max_length=16, choices=ScheduleAction.choices)
    outcome = models.CharField(max_length=300)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["schedule", "-id"], name="schedulerun_newest")]

    def __str__(self):
        return f"{self.schedule} at {self.started_at:%Y-%m-%d %H:%M}: {self.outcome}"
