import secrets
from datetime import timedelta

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
    # Set when it crashed too often (servers/crashes.py); a person starting it clears it.
    autorestart_paused_at = models.DateTimeField(null=True, blank=True)
    rcon_password = models.CharField(max_length=64, default=new_rcon_password, editable=False)
    # What A2S last said (the supervisor keeps these true while the server runs).
    map_seen = models.CharField(max_length=64, blank=True, default="")
    player_count = models.PositiveSmallIntegerField(null=True, blank=True)
    max_players_seen = models.PositiveSmallIntegerField(null=True, blank=True)
    players = models.JSONField(
        default=list,
        blank=True,
        help_text="[{name, score, joined}, ...] from A2S_PLAYER; joined: when they connected (ISO 8601)",
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


# The crash-loop guard (servers/crashes.py): the first CRASH_LOOP_COUNT crashes within
# CRASH_LOOP_WINDOW are restarted, one more pauses automatic restarts.
CRASH_LOOP_COUNT = 3
CRASH_LOOP_WINDOW = timedelta(minutes=10)
PAUSED_NOTICE = (
    f"Automatic restarts are paused: it crashed more than {CRASH_LOOP_COUNT} times within "
    f"{CRASH_LOOP_WINDOW.seconds // 60} minutes. Start or Restart it to run it again; that resumes them."
)


class CrashReason(models.TextChoices):
    SEGFAULT = "segfault", "Segmentation fault"
    "srcds died of SIGSEGV (often a plugin, a map, or a game update it was not restarted for)."
    PORT_IN_USE = "port_in_use", "Port in use"
    "Another process holds the game port."
    MISSING_MAP = "missing_map", "Missing map"
    "The map it was asked to load is not installed."
    MISSING_LIBRARY = "missing_library", "Missing library"
    "A shared library (e.g. steamclient.so) could not be loaded."
    HOST_ERROR = "host_error", "Host_Error"
    "The engine stopped on a Host_Error."
    UNKNOWN = "unknown", "Unknown"
    "No known crash message; the exit status, if known, is in the detail."


class CrashAction(models.TextChoices):
    RESTARTED = "restarted", "Restart queued"
    "A restart job was queued (trigger monitor)."
    PAUSED = "paused", "Automatic restarts paused"
    "It crashed too often: no more automatic restarts until a person starts it."
    OFF = "off", "Auto-restart is off"
    "Its owner turned automatic restarts off."


class ServerCrash(models.Model):
    """One death of a server that should have been running (DESIGN.md §8)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="crashes")
    at = models.DateTimeField(default=timezone.now)
    reason = models.CharField(max_length=16, choices=CrashReason.choices)
    detail = models.TextField()
    exit_status = models.IntegerField(
        null=True, blank=True, help_text="Unknown if the worker restarted since."
    )
    last_lines = models.JSONField(
        default=list, blank=True, help_text="The last console lines before it died."
    )
    action = models.CharField(max_length=16, choices=CrashAction.choices)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["server", "-at"], name="crash_server_newest")]

    def __str__(self):
        return f"{self.server.name} {self.get_reason_display()} at {self.at:%Y-%m-%d %H:%M:%S}"


class ServerSample(models.Model):
    """Players, CPU and memory of a running server's process tree, every L4D2_SAMPLE_SECONDS."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="samples", db_index=False)
    at = models.DateTimeField()
    players = models.PositiveSmallIntegerField(null=True)
    cpu = models.FloatField(null=True, help_text="Percent of one core.")
    memory = models.PositiveBigIntegerField(null=True, help_text="Resident bytes.")

    class Meta:
        indexes = [
            # "The last 24 h of server X" reads one contiguous range of this index.
            models.Index(fields=["server", "at"], name="sample_server_at"),
            # The pruner's "older than 7 days", across servers.
            models.Index(fields=["at"], name="sample_at"),
        ]

    def __str__(self):
        return f"{self.server_id} at {self.at:%Y-%m-%d %H:%M:%S}"


class SupervisorBeat(models.Model):
    """When a node's supervisor last looked at all its servers: one row per node, one write per pass.

    A server's own row is only written when something about it changed, so its
    last check is the later of this and its `actual_state_checked_at`.
    """

    node_name = models.CharField(max_length=64, unique=True, blank=True, help_text="Empty: the panel's host.")
    checked_at = models.DateTimeField()

    def __str__(self):
        return f"{self.node_name or 'panel host'} at {self.checked_at:%H:%M:%S}"
