"""A server's console as a live-stream source (DESIGN.md §4, §8): its lines and its state frame."""

from streams.source import LineSource

from ..live import console_group, state_frame
from ..models import ConsoleLine


class ConsoleSource(LineSource):
    """Never finishes while the server exists: a console outlives every start and stop.

    (A deleted server's state is None, which ends the stream like any source's.) The pump
    nudges it after batches of lines (notify_console), the supervisor on every state
    change (notify_server): both are news for a console viewer.
    """

    lines = ConsoleLine

    def __init__(self, server_id):
        super().__init__(server_id, console_group(server_id))

    def read_state(self):
        return state_frame(self.owner_id)
