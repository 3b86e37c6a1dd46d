"""What the supervisor records: crashes, resource samples, its own passes (servers/supervisor.py)."""

from datetime import timedelta

from django.db import models
from django.utils import timezone

from .server import Server

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
        verbose_name_plural = "server crashes"  # not Django's "server crashs"

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
