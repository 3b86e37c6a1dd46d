"""A server's live state as the pages show it, and the nudge that says it changed.

The supervisor (and the console pump) write the state to the database, then call
`notify_server`; every live view of the server (its page, the server list, the
console) re-reads `state_frame` (or `list_frame`) on the nudge, or on its next
poll without Redis.
"""

import functools

from l4d2site.db import aware, fetch
from l4d2site.job_states import UNFINISHED_STATES
from streams import layer

from .models import (
    PAUSED_NOTICE,
    ActualState,
    CrashAction,
    CrashReason,
    DesiredState,
    Server,
    ServerCrash,
    SupervisorBeat,
)

LIST_GROUP = "servers"  # any server changed: the server lists look again

FIELDS = (
    "name",
    "map",
    "max_players",
    "actual_state",
    "desired_state",
    "actual_state_checked_at",
    "actual_state_since",
    "map_seen",
    "player_count",
    "max_players_seen",
    "players",
    "auto_restart",
    "autorestart_paused_at",
    "node__name",
)


def server_group(server_id):
    return f"server.{server_id}"


def console_group(server_id):
    return f"console.{server_id}"


def notify_server(server_id):
    """The server's state changed: wake its live views now (page, list, console)."""
    for group in (server_group(server_id), LIST_GROUP, console_group(server_id)):
        layer.publish(group, {"type": "server.changed"})


def notify_console(server_id, seq):
    """New console lines up to `seq`: wake its console viewers (not the pages: they show no lines)."""
    layer.publish(console_group(server_id), {"type": "console.lines", "seq": seq})


# The reads of every state frame (a server page's first paint, each wake-up of its viewers), as
# statements: through the ORM they cost the page 1 ms of its 8 (bench/page_floor.py).
# The supervisor's last pass over the server's node.
BEAT = f"SELECT checked_at FROM {SupervisorBeat._meta.db_table} WHERE node_name = %s ORDER BY id LIMIT 1"


@functools.cache
def _unfinished():
    """Every unfinished job of a server (a few at most), the first picked in Python: ORDER BY id
    LIMIT 1 let SQLite walk the server's whole history (22 ms at 200,000 jobs) instead of the
    `job_server_state` index. The jobs' table by the reverse relation (`servers` never imports
    `jobs`), once the apps are loaded."""
    table = Server._meta.get_field("jobs").related_model._meta.db_table
    marks = ", ".join(["%s"] * len(UNFINISHED_STATES))
    return f"SELECT id, kind, state FROM {table} WHERE server_id = %s AND state IN ({marks})"


# The last crash, on the `crash_server_newest` index.
CRASH = f"""SELECT at, reason, detail, action FROM {ServerCrash._meta.db_table}
    WHERE server_id = %s ORDER BY at DESC, id DESC LIMIT 1"""


def state_frame(server_id, loaded=None):
    """The server's live state as a JSON-able dict (a "state" frame), or None if it is gone.

    `loaded`: the Server (with its node) this request has just read: its row is not read again.
    Keys: state, desired_state, checked_at, since (the first four, which the console
    reads too), then what the server page shows: state_label, map, player_count,
    max_players, players, auto_restart, paused (notice text or ""), job (the job
    queued or running on it, or None) and crash (the last one, or None).
    """
    row = _row(loaded) if loaded else Server.objects.filter(pk=server_id).values(*FIELDS).first()
    if row is None:
        return None
    beat = next((aware(at) for (at,) in fetch(BEAT, (row["node__name"] or "",))), None)
    checked = max(filter(None, [row["actual_state_checked_at"], beat]), default=None)
    job = min(fetch(_unfinished(), (server_id, *UNFINISHED_STATES)), default=None)
    crash = next(
        (
            {"at": aware(at), "reason": reason, "detail": detail, "action": action}
            for at, reason, detail, action in fetch(CRASH, (server_id,))
        ),
        None,
    )
    if crash and crash["action"] == CrashAction.RESTARTED:
        crash["restart"] = _restart_after(server_id, crash["at"])
    return {
        "state": row["actual_state"],
        "desired_state": row["desired_state"],
        "checked_at": _iso(checked),
        "since": _iso(row["actual_state_since"]),
        **_live_fields(row),
        "auto_restart": row["auto_restart"],
        "paused": PAUSED_NOTICE if row["autorestart_paused_at"] else "",
        "job": job and dict(zip(("id", "kind", "state"), job, strict=True)),
        "crash": crash and _crash(crash),
    }


def _row(server):
    """The FIELDS of a loaded server, as `values(*FIELDS)` reads them."""
    row = {name: getattr(server, name) for name in FIELDS if name != "node__name"}
    return {**row, "node__name": server.node.name if server.node else None}


def list_frame(user_id, is_staff):
    """The live columns of every server the user sees (the /servers/ page), as a state frame."""
    servers = Server.objects.seen_by(user_id, is_staff)
    rows = servers.order_by("name", "id").values("id", *FIELDS)
    return {"servers": [_list_row(row) for row in rows]}


def list_row(server):
    """A loaded server's entry of `list_frame` (its node loaded too)."""
    return _list_row({"id": server.id, **_row(server)})


def _list_row(row):
    return {
        "id": row["id"],
        "state": row["actual_state"],
        "desired_state": row["desired_state"],
        **_live_fields(row),
    }


def _live_fields(row):
    return {
        "state_label": ActualState(row["actual_state"]).label,
        "desired_label": DesiredState(row["desired_state"]).label,
        "map": row["map_seen"] or row["map"],
        "player_count": row["player_count"],
        "max_players": row["max_players_seen"] or row["max_players"],
        "players": row["players"]
        if row["actual_state"] in (ActualState.RUNNING, ActualState.UNRESPONSIVE)
        else [],
    }


# What became of the restart a crash queued, by its job's state ("Restart queued" until it runs).
RESTART_WORDS = {
    "running": "Restarting",
    "cancelling": "Restart being cancelled",
    "succeeded": "Restarted",
    "failed": "The restart failed",
    "cancelled": "The restart was cancelled",
}


def _restart_after(server_id, at):
    """The state of the monitor's restart job queued for the crash at `at` (None if there is none):
    the first of the few jobs the monitor queued since, on the `job_server_monitor` index."""
    since = Server.objects.filter(pk=server_id, jobs__trigger="monitor", jobs__created_at__gte=at).order_by()
    return min(since.values_list("jobs__id", "jobs__state"), default=(None, None))[1]


def _crash(row):
    action = CrashAction(row["action"]).label
    return {
        "at": _iso(row["at"]),
        "reason": row["reason"],
        "reason_label": CrashReason(row["reason"]).label,
        "detail": row["detail"],
        "action": RESTART_WORDS.get(row.get("restart"), action),
    }


def _iso(value):
    return value.isoformat() if value else None
