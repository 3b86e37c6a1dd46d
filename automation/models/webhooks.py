"""Webhooks: URLs told about server and job events, and every delivery with each attempt at it."""

from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from l4d2site.db import optional_fk, retry_locked
from servers.models import Server

from .. import limits
from ..validators import validate_webhook_url

DISCORD_HOSTS = {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
MAX_ATTEMPTS = 5
DELIVERIES_KEPT = 200  # per webhook; older ones are deleted as new ones come
STUCK_AFTER = timedelta(minutes=5)  # a delivery "sending" this long lost its worker: try it again


class WebhookEvent(models.TextChoices):
    JOB_FAILED = "job.failed", "A job failed"
    "A job of the server ended with a non-zero exit code (or its worker died)."
    JOB_SUCCEEDED = "job.succeeded", "A job succeeded"
    "A job of the server ended with exit code 0."
    SERVER_CRASHED = "server.crashed", "The server crashed"
    "The supervisor found the server's process gone while it should be running."
    SERVER_UPDATE_AVAILABLE = "server.update_available", "A game update is available"
    "Valve shipped a build newer than the server's (with update policy notify or apply)."
    SERVER_AUTORESTART_PAUSED = "server.autorestart_paused", "Automatic restarts paused"
    "The server crashed too often; it stays down until a person starts it."


TEST_EVENT = "webhook.test"


class HttpsURLField(models.URLField):
    """A URL field whose forms read "example.org/hook" as https://, as Django 6 will."""

    def formfield(self, **kwargs):
        return super().formfield(**{"assume_scheme": "https", **kwargs})


class WebhookQuerySet(models.QuerySet):
    def visible_to(self, user):
        return self if user.is_staff else self.filter(owner=user)

    def reaching(self, server):
        """The webhooks of `server` (not those for all servers) that its events reach.

        An owner's webhook hears its server only while the owner still owns it (staff's,
        always): a previous owner's webhooks neither hear it nor take a place there.
        """
        return self.filter(_of_server(server))

    def for_event(self, name, server):
        """Enabled webhooks to tell about `name` on `server`.

        Those of the server that reach it, and those for all servers (no server) while
        their owner is staff.
        """
        everywhere = Q(server__isnull=True, owner__is_staff=True)
        hooks = self.filter(enabled=True).filter(_of_server(server) | everywhere).select_related("owner")
        # `events` is a JSON list; filtered here because SQLite has no JSON "contains".
        return [hook for hook in hooks if name in hook.events]


def _of_server(server):
    """Webhooks of `server` whose owner may still have them: its owner, staff, and members
    holding webhooks.update (a member who loses it, or leaves, stops hearing it at once)."""
    members = server.members.all()
    granted = [
        m.user_id for m in members.only("user_id", "permissions") if "webhooks.update" in m.permissions
    ]
    return Q(server=server) & (Q(server__owner=F("owner")) | Q(owner__is_staff=True) | Q(owner__in=granted))


EVERY_SERVER = "Empty: every server (staff only)."


class Webhook(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    server = optional_fk(Server, on_delete=models.CASCADE, related_name="webhooks", help_text=EVERY_SERVER)
    name = models.CharField(max_length=64, blank=True)
    url = HttpsURLField(
        "URL",
        max_length=500,
        validators=[validate_webhook_url],
        help_text="Where events are POSTed. A Discord webhook URL gets Discord's message format.",
    )
    events = models.JSONField(default=list, help_text='Event names, e.g. ["job.failed"].')
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return self.name or urlsplit(self.url).hostname or self.url

    def get_absolute_url(self):
        return reverse("automation:webhook", args=[self.id])

    def clean(self):
        self.check_limit()

    def activity_detail(self):
        """What the activity log keeps of it (automation/audit.py): its host, never its path."""
        host = urlsplit(self.url).hostname or ""
        return {"name": self.name or host, "host": host}

    def check_limit(self):
        """ValidationError if this webhook is one more than its server (or owner) may have."""
        limits.check_webhook(self)

    @property
    def is_discord(self):
        """Discord's incoming webhooks get Discord's message format instead of our JSON body."""
        parts = urlsplit(self.url)
        return (
            parts.scheme == "https"
            and (parts.hostname or "").lower() in DISCORD_HOSTS
            and parts.path.startswith("/api/webhooks/")
        )

    def event_labels(self):
        labels = dict(WebhookEvent.choices)
        return [labels.get(name, name) for name in self.events]


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Pending"
    "Waiting for its first try, or for the next one after a failure."
    SENDING = "sending", "Sending"
    "A worker claimed it and is sending it now."
    DELIVERED = "delivered", "Delivered"
    "The receiver answered 2xx."
    FAILED = "failed", "Failed"
    "Every try failed, or the receiver refused it for good; no more tries."


class DeliveryQuerySet(models.QuerySet):
    def due(self):
        return self.filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())

    @retry_locked
    def claim(self, delivery_id):
        """pending -> sending, counting the attempt; True for the one worker that won it."""
        return bool(
            self.filter(pk=delivery_id, state=DeliveryState.PENDING).update(
                state=DeliveryState.SENDING, claimed_at=timezone.now(), attempts=F("attempts") + 1
            )
        )

    @retry_locked
    def release_stuck(self):
        """Deliveries whose worker died mid-send go back to pending: twice is better than never."""
        cutoff = timezone.now() - STUCK_AFTER
        return self.filter(state=DeliveryState.SENDING, claimed_at__lt=cutoff).update(
            state=DeliveryState.PENDING, next_attempt_at=timezone.now()
        )


class Delivery(models.Model):
    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32)
    # DESIGN.md §9's JSON body; Discord's format is made from it when sending.
    payload = models.JSONField()
    state = models.CharField(max_length=9, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=MAX_ATTEMPTS)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_due"),
            models.Index(fields=["webhook", "-id"], name="delivery_newest"),
        ]

    def __str__(self):
        return f"{self.event} to {self.webhook} ({self.state})"


class DeliveryAttempt(models.Model):
    """One try at a delivery: what the receiver answered, or why it could not be reached."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveSmallIntegerField()
    at = models.DateTimeField(default=timezone.now)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=500, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["delivery", "number"]

    def __str__(self):
        return f"try {self.number}: {self.status_code or self.error}"
