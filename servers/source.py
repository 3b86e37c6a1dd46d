"""A server's live state, and the live rows of a user's server list, as stream sources.

They carry no lines, only state frames (servers/live.py): the stream machinery
(streams/tail.py) gives them one poller per process however many people watch,
a nudge from the supervisor wakes it at once, and the WebSocket sends a frame
whenever the state read differs from the last one.
"""

from streams.source import Source

from .live import LIST_GROUP, list_frame, server_group, state_frame


class ServerSource(Source):
    # The supervisor's and the worker's changes wake it at once (notify_server); the poll
    # only catches what nobody announces (a job queued elsewhere, the pass time).
    poll_seconds = 0.5

    def __init__(self, server_id):
        self.server_id = server_id
        self.key = f"server.{server_id}.state"
        self.group = server_group(server_id)

    def read_state(self):
        return state_frame(self.server_id)


class ServerListSource(Source):
    # A list of many servers costs more to read: look every second; nudges come at once.
    poll_seconds = 1.0
    group = LIST_GROUP

    def __init__(self, user):
        self.user_id, self.is_staff = user.pk, user.is_staff
        self.key = f"servers.list.{user.pk}"

    def read_state(self):
        return list_frame(self.user_id, self.is_staff)
