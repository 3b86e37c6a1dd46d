"""What the panel knows of a server's addons. The files themselves live on the game host: the
worker reads and writes them (hostctl), and records here what its jobs installed."""

from django.db import models
from django.utils import timezone

from servers.models import ActualState, Server

from .workshop_models import WorkshopItem, WorkshopState  # noqa: F401


class ModName(models.TextChoices):
    METAMOD = "metamod", "MetaMod:Source"
    "The game's plugin loader (addons/metamod.vdf, addons/metamod/)."
    SOURCEMOD = "sourcemod", "SourceMod"
    "A MetaMod plugin running SourcePawn plugins (addons/sourcemod/, cfg/sourcemod/)."


class ModState(models.Model):
    """A mod of a server as its last `sourcemod` job left it (from the manifest on the game host)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="mods")
    name = models.CharField(max_length=16, choices=ModName.choices)
    version = models.CharField(max_length=40, blank=True, default="")  # "" once removed
    files = models.PositiveIntegerField(default=0)
    archive_sha256 = models.CharField(max_length=64, blank=True, default="")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "name"], name="one_state_per_mod")]

    def __str__(self):
        return f"{self.get_name_display()} {self.version or '(removed)'} on {self.server}"

    @property
    def installed(self):
        return bool(self.version)

    @property
    def restart_needed(self):
        """A live server started before this change still runs the old files (the game loads
        MetaMod, and so SourceMod, only at startup)."""
        server = self.server
        live = server.actual_state in (ActualState.RUNNING, ActualState.UNRESPONSIVE)
        return live and server.actual_state_since is not None and server.actual_state_since < self.changed_at
