from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from .validators import validate_map_name, validate_server_name


class DesiredState(models.TextChoices):
    RUNNING = "running", "Running"
    "The owner wants the game server up."
    STOPPED = "stopped", "Stopped"
    "The owner wants the game server down."


class ActualState(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    "Not checked yet."
    NOT_INSTALLED = "not_installed", "Not installed"
    "No game files in the server's install directory."
    STOPPED = "stopped", "Stopped"
    "Installed, no server process."
    RUNNING = "running", "Running"
    "The srcds process is alive."
    CRASHED = "crashed", "Crashed"
    "A pid file is left but its process is gone: it died without being stopped."


class Node(models.Model):
    """A game host: one machine whose `runworker --node NAME` runs its servers' jobs."""

    name = models.SlugField(max_length=64, unique=True)
    address = models.CharField(max_length=255, blank=True, help_text="Where players reach it (host or IP).")
    last_heartbeat = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    @property
    def is_online(self):
        if self.last_heartbeat is None:
            return False
        age = (timezone.now() - self.last_heartbeat).total_seconds()
        return age < settings.NODE_OFFLINE_SECONDS


class ServerQuerySet(models.QuerySet):
    def visible_to(self, user):
        if user.is_staff:
            return self
        return self.filter(owner=user)


class Server(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="servers")
    node = models.ForeignKey(
        Node,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="servers",
        help_text="The game host it lives on; empty: the panel's own host (plain `runworker`).",
    )
    name = models.CharField(max_length=64, validators=[validate_server_name])
    port = models.PositiveIntegerField(
        unique=True,
        validators=[MinValueValidator(1024), MaxValueValidator(65535)],
        help_text="UDP game port (1024-65535).",
    )
    map = models.CharField(max_length=64, default="c1m1_hotel", validators=[validate_map_name])
    max_players = models.PositiveSmallIntegerField(
        default=8, validators=[MinValueValidator(1), MaxValueValidator(32)]
    )
    desired_state = models.CharField(
        max_length=16, choices=DesiredState.choices, default=DesiredState.STOPPED
    )
    actual_state = models.CharField(max_length=16, choices=ActualState.choices, default=ActualState.UNKNOWN)
    actual_state_checked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ServerQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(port__gte=1024, port__lte=65535), name="server_port_range"
            ),
        ]

    def __str__(self):
        return f"{self.name} (:{self.port})"

    def get_absolute_url(self):
        return reverse("servers:detail", args=[self.id])
