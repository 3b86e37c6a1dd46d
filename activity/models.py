from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from . import words


class Via(models.TextChoices):
    WEB = "web", "Web"
    "A person in the browser (pages, the admin, the login form)."
    API = "api", "API"
    "A call to the HTTP API."
    SCHEDULE = "schedule", "Schedule"
    "One of the server's schedules, on its own."
    MONITOR = "monitor", "Monitor"
    "The supervisor, on its own (e.g. a restart after a crash)."


class Event(models.Model):
    """One thing that happened (DESIGN.md §11).

    `actor` is who did it (null: the panel itself), except for `auth.*` events, where it is
    the account concerned: the failed logins and lockouts of your user name belong in your
    activity even though someone else typed them (`detail["username"]` has the name tried).
    """

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    via = models.CharField(max_length=16, choices=Via.choices, default=Via.WEB)
    # The API key the actor acted through (via "api"), by name like the server: api sits above.
    api_key = models.ForeignKey(
        "api.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    # By name, not import: servers sits above activity. An event outlives its server
    # (staff still see it, with the name kept in detail["server_name"]).
    server = models.ForeignKey(
        "servers.Server", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=64)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # Newest-first keyset pages of /servers/<id>/activity and /account/activity.
            models.Index(fields=["server", "-id"], name="activity_server_newest"),
            models.Index(fields=["actor", "-id"], name="activity_actor_newest"),
            # "Has this user logged in from this address before?" (login throttling).
            models.Index(
                fields=["actor", "ip"], condition=Q(action="auth.login"), name="activity_login_address"
            ),
        ]

    def __str__(self):
        return f"{self.action} by {self.who} at {self.at:%Y-%m-%d %H:%M:%S}"

    # --- as the pages show it (templates/activity/_event_row.html, live rows) -----------

    @property
    def who(self):
        if self.actor is not None:
            return self.actor.get_username()
        if self.via in (Via.SCHEDULE, Via.MONITOR):
            return "the panel"
        # A person did it (the web, the API), and their account is gone since.
        return "a deleted account"

    @property
    def words(self):
        """The action in words ("Queued a job")."""
        return words.words(self.action)

    @property
    def summary(self):
        """The detail in one line ("Restart · job #12")."""
        return words.summary(self.action, self.detail)

    @property
    def link(self):
        """Where the event's subject is (a job's page), or ""."""
        job = self.detail.get("job") if self.action.startswith("job.") else None
        return reverse("jobs:detail", args=[job]) if isinstance(job, int) else ""

    def as_json(self):
        """The row as a live frame carries it: what the row template shows, as text."""
        return {
            "id": self.pk,
            "at": self.at.isoformat(),
            "who": self.who,
            "actor": self.actor.get_username() if self.actor else "",
            "via": self.via,
            "via_label": self.get_via_display(),
            "action": self.action,
            "words": self.words,
            "summary": self.summary,
            "link": self.link,
            "ip": self.ip or "",
        }
