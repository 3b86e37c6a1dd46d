import secrets

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from streams.numbered import NumberedLine

from .validators import CvarValidator, validate_extra_cfg, validate_map_name, validate_server_name


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


class GameMode(models.TextChoices):
    COOP = "coop", "Co-op"
    "Four survivors against the AI, through a campaign."
    VERSUS = "versus", "Versus"
    "Two teams of four take turns as survivors and as special infected."
    SURVIVAL = "survival", "Survival"
    "Hold out against endless hordes for as long as possible."
    SCAVENGE = "scavenge", "Scavenge"
    "Teams race to collect gas cans, taking turns as survivors and infected."
    REALISM = "realism", "Realism"
    "Co-op without outlines or item glows; the infected hit harder."


class Difficulty(models.TextChoices):
    EASY = "Easy", "Easy"
    "The infected do little damage."
    NORMAL = "Normal", "Normal"
    "The game's default."
    HARD = "Hard", "Advanced (Hard)"
    "Called Advanced in the game's menus."
    IMPOSSIBLE = "Impossible", "Expert (Impossible)"
    "Called Expert in the game's menus."


class Region(models.IntegerChoices):
    WORLD = -1, "World"
    "Listed everywhere."
    US_EAST = 0, "US East"
    "Listed for US East."
    US_WEST = 1, "US West"
    "Listed for US West."
    SOUTH_AMERICA = 2, "South America"
    "Listed for South America."
    EUROPE = 3, "Europe"
    "Listed for Europe."
    ASIA = 4, "Asia"
    "Listed for Asia."
    AUSTRALIA = 5, "Australia"
    "Listed for Australia."
    MIDDLE_EAST = 6, "Middle East"
    "Listed for the Middle East."
    AFRICA = 7, "Africa"
    "Listed for Africa."


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


def cvar_text(cvar, label, max_length, help_text):
    """A text field for an everyday cvar, checked by hostctl's rule for it."""
    return models.CharField(
        label, max_length=max_length, blank=True, validators=[CvarValidator(cvar)], help_text=help_text
    )


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
    # server.cfg settings (the settings page; hostctl writes the file from them at every start).
    sv_password = cvar_text(
        "sv_password", "Join password", 64, "Players must type it to join; empty: no password."
    )
    mp_gamemode = models.CharField(
        "Game mode", max_length=16, choices=GameMode.choices, default=GameMode.COOP
    )
    z_difficulty = models.CharField(
        "Difficulty", max_length=16, choices=Difficulty.choices, default=Difficulty.NORMAL
    )
    sv_allow_lobby_connect_only = models.BooleanField(
        "Lobby connections only",
        default=False,
        help_text="Players may only join from a matchmaking lobby, not with connect or the server browser.",
    )
    sv_steamgroup = cvar_text(
        "sv_steamgroup",
        "Steam group IDs",
        255,
        "Comma-separated Steam group IDs (numbers) this server belongs to.",
    )
    sv_steamgroup_exclusive = models.BooleanField(
        "Steam group members only", default=False, help_text="Only members of those groups may join."
    )
    sv_region = models.SmallIntegerField("Region", choices=Region.choices, default=Region.WORLD)
    sv_tags = cvar_text("sv_tags", "Tags", 128, "Comma-separated tags shown in the server browser.")
    motd_enabled = models.BooleanField(
        "Message of the day", default=True, help_text="Show the message of the day to players who join."
    )
    extra_cfg = models.TextField(
        "Extra cfg",
        blank=True,
        validators=[validate_extra_cfg],
        help_text="More cvars, one per line, written after the settings above.",
    )
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


# --- the console (servers/console/) -----------------------------------------------


class ConsoleStream(models.TextChoices):
    STDOUT = "stdout", "Output"
    "What srcds printed (stdout and stderr, as one stream, like a terminal shows them)."
    COMMAND = "command", "Command"
    "A command someone sent from the panel, written as it was delivered, with who sent it."
    SYSTEM = "system", "Panel"
    "A note from the panel: the server started, a command could not be delivered."


class ConsoleLine(NumberedLine):
    """One line of a server's console; seq 1, 2, 3... per server, no gaps (old ones pruned)."""

    owner_field = "server"
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_lines", db_index=False)
    seq = models.PositiveBigIntegerField()
    stream = models.CharField(max_length=7, choices=ConsoleStream.choices)

    class Meta:
        ordering = ["server", "seq"]
        constraints = [
            # Doubles as the (server, seq) index every console read, tail and prune uses.
            models.UniqueConstraint(fields=["server", "seq"], name="consoleline_server_seq"),
        ]


class ConsoleCursor(models.Model):
    """How far the console pump has read a server's console.log.

    Written in the same transaction as the lines it read up to, so a worker that
    dies resumes exactly after the last stored line.
    """

    server = models.OneToOneField(Server, on_delete=models.CASCADE, primary_key=True, related_name="+")
    file_id = models.CharField(max_length=64, blank=True, help_text="device:inode of the file being read")
    file_offset = models.PositiveBigIntegerField(default=0)

    def __str__(self):
        return f"{self.server_id}: {self.file_id} @ {self.file_offset}"


class CommandKind(models.TextChoices):
    LINE = "line", "Console line"
    "A line typed into the console, sent as it is."
    RCON_PASSWORD = "rcon_password", "RCON password change"
    "Sets the server's current RCON password; the worker reads it from the server when it delivers it."


class CommandOutcome(models.TextChoices):
    PENDING = "pending", "Pending"
    "Waiting for the worker on the server's host."
    DELIVERED = "delivered", "Delivered"
    "Written to the server's console input."
    FAILED = "failed", "Not delivered"
    "The server's console was not open (the server had stopped)."
    EXPIRED = "expired", "Expired"
    "Still waiting after CONSOLE_COMMAND_EXPIRY (the host's worker was away): dropped, never run late."


class ConsoleCommand(models.Model):
    """A command sent to a server's console, and who sent it (the audit trail)."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="console_commands")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=16, choices=CommandKind.choices, default=CommandKind.LINE)
    text = models.CharField(max_length=512, help_text="As typed; an RCON password change is stored masked.")
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=9, choices=CommandOutcome.choices, default=CommandOutcome.PENDING)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "created_at"], name="consolecommand_user_time"),
            models.Index(
                fields=["server"],
                name="consolecommand_pending",
                condition=models.Q(outcome="pending"),
            ),
        ]

    def __str__(self):
        return f"{self.server_id}: {self.text[:80]}"
