"""What the running server has, next to what is saved: the map it goes back to, the
settings it was started with, and which saved settings it does not have yet.

- A map change from the console or a vote (`changelevel`) is only in the game: the
  supervisor notes the map A2S reports (`last_map`, `last_map_at`). A restart, an update
  or a start after a crash goes back to that map, unless the owner changed the map
  setting after it was seen (`map_changed_at`). A Start after a Stop uses the setting.
- Every start records the settings it started with (`started_with`); the saved ones that
  differ are "pending" until the next start, which "Apply now" (a restart) brings about.
"""

from django.db import transaction
from django.utils import timezone
from django.utils.text import capfirst

import activity
from hostctl import cvars

from .models import ActualState, Server

# The settings a start hands srcds (command line and server.cfg), in the page's order.
# The RCON password is not here: its rotation offers to send it to the running server.
APPLIED = ("name", "map", "max_players", *cvars.EVERYDAY, "extra_cfg")

# The kinds that bring a running (or crashed) server back rather than start it afresh.
BRINGS_BACK = ("restart", "update")


def start_map(server, kind):
    """The map a `kind` job starts `server` on: the live one it was on, or the setting."""
    brings_back = kind in BRINGS_BACK or server.actual_state == ActualState.CRASHED
    if brings_back and live_map_wins(server):
        return server.last_map
    return server.map


def live_map_wins(server):
    """Whether the map it was last seen on differs from the setting and is newer than it."""
    if not server.last_map or server.last_map == server.map:
        return False
    changed = server.map_changed_at
    return changed is None or (server.last_map_at is not None and server.last_map_at > changed)


def snapshot(server):
    """The saved settings as a start hands them over, JSON-ready (the configured map, not the live one)."""
    return {name: getattr(server, name) for name in APPLIED}


def record_start(server_id, settings):
    """The running process was started with `settings` (a snapshot taken before it started)."""
    Server.objects.filter(pk=server_id).update(started_with=settings, updated_at=timezone.now())


def pending(server):
    """[(label, saved value), ...]: the saved settings the running server does not have yet.

    Empty when it is not running, or has run only from before the panel recorded starts.
    """
    if server.actual_state not in (ActualState.RUNNING, ActualState.UNRESPONSIVE) or not server.started_with:
        return []
    saved, started = snapshot(server), server.started_with
    changed = [name for name in APPLIED if name in started and started[name] != saved[name]]
    return [(_label(name), _shown(server, name)) for name in changed]


def _label(name):
    return capfirst(Server._meta.get_field(name).verbose_name)


def _shown(server, name):
    # A password or a file body is named, never shown (the server page is for every member).
    if name in ("sv_password", "extra_cfg"):
        return "changed"
    display = getattr(server, f"get_{name}_display", None)
    return str(display() if display else getattr(server, name))


def live_map(server):
    """The map it is (or was last) on when that differs from the setting, else ""."""
    return server.last_map if server.last_map and server.last_map != server.map else ""


def keep_live_map(server, *, request):
    """The map setting becomes the live map, recorded as a settings change."""
    was = server.map
    server.map = server.last_map
    mark_map_changed(server)
    with transaction.atomic():
        server.save(update_fields=["map", "map_changed_at", "updated_at"])
        detail = {"fields": ["map"], "values": {"map": server.map}, "was": {"map": was}}
        activity.record("settings.updated", request=request, server=server, detail=detail)


def mark_map_changed(server):
    """Note on `server` (not yet saved) that the map setting changes now."""
    server.map_changed_at = timezone.now()
