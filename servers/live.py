"""A server's live state as the pages show it, and the nudge that says it changed.

The supervisor (and the console pump) write the state to the database, then call
`notify_server`; every live view of the server (its page, the server list, the
console) re-reads `state_frame` on the nudge, or on its next poll without Redis.
"""

from streams import layer

from .models import Server


def server_group(server_id):
    return f"server.{server_id}"


def notify_server(server_id):
    """The server's state (or its console) changed: wake its live views now."""
    layer.publish(server_group(server_id), {"type": "server.changed"})


def state_frame(server_id):
    """The server's live state as a JSON-able dict (a "state" frame), or None if it is gone."""
    row = (
        Server.objects.filter(pk=server_id)
        .values("actual_state", "desired_state", "actual_state_checked_at", "actual_state_since")
        .first()
    )
    if row is None:
        return None
    return {
        "state": row["actual_state"],
        "desired_state": row["desired_state"],
        "checked_at": _iso(row["actual_state_checked_at"]),
        "since": _iso(row["actual_state_since"]),
    }


def _iso(value):
    return value.isoformat() if value else None
