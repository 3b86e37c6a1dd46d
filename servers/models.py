import secrets

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
    "It should be running but its process is gone: it died without being stopped."
    UNRESPONSIVE = "unresponsive", "Unresponsive"
    "Its process is alive but has not answered A2S queries for L4D2_UNRESPONSIVE_SECONDS."


class UpdatePolicy(models.TextChoices):
    OFF = "off", "Off"
    "Never look for game updates for this server."
    NOTIFY = "notify", "Notify"
    "Show that an update is available; a person decides when."
    APPLY = "apply", "Apply"
    "Warn players, stop, update and start again as one job, as soon as Valve ships a build."


def new_rcon_password():
    """192 random bits, URL-safe: no quote or space can break the cfg line it is written to."""
    return secrets.token_urlsafe(24)


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
        help_text="The game host it lives on. Empty: the panel's own host (its worker runs without --node).",
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
    # Since when the actual state has been what it is (uptime while running).
    actual_state_since = models.DateTimeField(null=True, blank=True)
    auto_restart = models.BooleanField(
        default=True, help_text="Restart it automatically when it crashes while it should be running."
    )
    rcon_password = models.CharField(max_length=64, default=new_rcon_password, editable=False)
    # What A2S last said (the supervisor keeps these true while the server runs).
    map_seen = models.CharField(max_length=64, blank=True, default="")
    player_count = models.PositiveSmallIntegerField(null=True, blank=True)
    max_players_seen = models.PositiveSmallIntegerField(null=True, blank=True)
    players = models.JSONField(
        default=list, blank=True, help_text="[{name, score, seconds}, ...] from A2S_PLAYER"
    )
    # Game builds: installed from the appmanifest, latest from steamcmd's app info.
    installed_build = models.CharField(max_length=32, blank=True, default="")
    latest_build = models.CharField(max_length=32, blank=True, default="")
    update_policy = models.CharField(max_length=8, choices=UpdatePolicy.choices, default=UpdatePolicy.NOTIFY)
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
