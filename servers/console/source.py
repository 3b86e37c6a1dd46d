"""A server's console as a live-stream source (DESIGN.md §4, §8): its lines and its state frame."""

from streams.tail import Source

from ..live import console_group, state_frame
from ..models import ConsoleLine


class ConsoleSource(Source):
    """Never finishes while the server exists: a console outlives every start and stop.

    (A deleted server's state is None, which ends the stream like any source's.)
    """

    def __init__(self, server_id):
        self.server_id = server_id
        self.key = f"console.{server_id}"
        # The pump nudges it after batches of lines (notify_console), the supervisor
        # on every state change (notify_server): both are news for a console viewer.
        self.group = console_group(server_id)

    def read_lines(self, after, limit):
        return ConsoleLine.objects.rows_after(self.server_id, after, limit)

    def read_state(self):
        return state_frame(self.server_id)

    def last_seq(self):
        return ConsoleLine.objects.last_seq(self.server_id)
