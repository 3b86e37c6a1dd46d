"""Game hosts (nodes) and game servers, with the settings an owner gives them."""

import secrets

from django.apps import apps
from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone

from l4d2site.db import optional_fk

from ..validators import CvarValidator, validate_extra_cfg, validate_map_name, validate_server_name


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
        return heard_lately(self.last_heartbeat)


def heard_lately(last_heartbeat):
    """Whether a node whose last heartbeat is this one counts as online (`Node.is_online`)."""
    if last_heartbeat is None:
        return False
    return (timezone.now() - last_heartbeat).total_seconds() < settings.NODE_OFFLINE_SECONDS


def cvar_text(cvar, label, max_length, help_text):
    """A text field for an everyday cvar, checked by hostctl's rule for it."""
    return models.CharField(
        label, max_length=max_length, blank=True, validators=[CvarValidator(cvar)], help_text=help_text
    )


class ServerQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Servers `user` owns or is a member of (staff: all); of those, the ones an API key
        acting for the user is limited to (servers.access.act_as_key)."""
        servers = self.seen_by(user.pk, user.is_staff)
        scope = getattr(user, "key_servers", None)
        return servers if scope is None else servers.filter(pk__in=scope)

    def on_node(self, node_name):
        """The servers a worker started with `--node node_name` looks after; without a name,
        the servers without a node (the panel's own host)."""
        return self.filter(node__name=node_name) if node_name else self.filter(node__isnull=True)

    def seen_by(self, user_id, is_staff):
        if is_staff:
            return self
        # A subquery, not a join: a join would repeat a server once per member.
        memberships = apps.get_model("servers", "ServerMember").objects.filter(user_id=user_id)
        return self.filter(models.Q(owner_id=user_id) | models.Q(pk__in=memberships.values("server_id")))


NODE_HELP = "The game host it lives on. Empty: the panel's own host (its worker runs without --node)."


class Server(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="servers")
    node = optional_fk(Node, on_delete=models.PROTECT, related_name="servers", help_text=NODE_HELP)
    name = models.CharField("Server name", max_length=64, validators=[validate_server_name])
    port = models.PositiveIntegerField(
        unique=True,
        validators=[MinValueValidator(1024), MaxValueValidator(65535)],
        help_text="UDP game port (1024-65535).",
    )
    map = models.CharField("Map", max_length=64, default="c1m1_hotel", validators=[validate_map_name])
    max_players = models.PositiveSmallIntegerField(
        "Max players",
        default=8,
        validators=[MinValueValidator(1), MaxValueValidator(32)],
        help_text="Player slots (1-32; L4D2 plays 4 survivors, 8 in versus).",
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
    # When the map setting last changed (settings page, "keep this map", admin): a live map
    # seen after it is kept across restarts, one seen before it gives way (servers/applied.py).
    map_changed_at = models.DateTimeField(null=True, blank=True)
    # What A2S last said (the supervisor keeps these true while the server runs).
    map_seen = models.CharField(max_length=64, blank=True, default="")
    # The map it was last seen on and since when; unlike map_seen, kept while it is down,
    # so a restart after a crash goes back to it.
    last_map = models.CharField(max_length=64, blank=True, default="")
    last_map_at = models.DateTimeField(null=True, blank=True)
    # The settings its running process was started with (servers/applied.py): what a saved
    # change has not reached yet is "pending" on the server page.
    started_with = models.JSONField(default=dict, blank=True)
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
    # Backups (backups/): how many are kept, and what they leave out beyond the defaults.
    backup_limit = models.PositiveSmallIntegerField(
        default=5,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Backups kept. A scheduled backup at the limit deletes the oldest unlocked one; "
        "a manual one is refused.",
    )
    backup_ignore = models.TextField(
        blank=True,
        default="",
        max_length=4000,
        help_text="Paths to leave out of backups, one gitignore pattern per line (e.g. *.dem), "
        "besides the game's own files.",
    )
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
