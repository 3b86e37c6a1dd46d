"""A server's activity as a live stream: the newest events as a state frame.

`record()` nudges the server's activity group once the event commits; the stream
machinery (streams/tail.py) then has one poller per server per web process re-read
the newest events, and sends a frame to every viewer when they differ from the last.
Events are not numbered lines: their ids are shared by every server and may commit out
of order (two transactions on PostgreSQL), so the frame carries the newest LIVE_EVENTS
whole and the page adds those it does not show yet (static/js/activity.js).
"""

from streams import layer
from streams.source import Source

LIVE_EVENTS = 30


def group(server_id):
    return f"activity.{server_id}"


def nudge(server_id):
    """A new event of the server: its live activity pages look again now."""
    layer.publish(group(server_id), {"type": "activity.recorded"})


def frame(server_id):
    from .models import Event

    events = Event.objects.filter(server_id=server_id).select_related("actor").order_by("-id")
    return {"events": [event.as_json() for event in events[:LIVE_EVENTS]]}


class ActivitySource(Source):
    # Nudges come at once from every process that records (the worker's too); the poll
    # only covers a lost one.
    poll_seconds = 2.0

    def __init__(self, server_id):
        self.server_id = server_id
        self.key = self.group = group(server_id)

    def read_state(self):
        return frame(self.server_id)
