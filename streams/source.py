"""What a stream is: its rows and its owner's state, read (sync) from the database. `LineSource`:
any `numbered.NumberedLine` model's (job logs, consoles); a plain `Source`: state frames alone."""

import abc

POLL_SECONDS = 0.1
BATCH = 1000  # rows per read


class Source(abc.ABC):
    """One stream: `key` names it within a process (one poller per key); `group` is the
    wake-up group whose messages mean "something changed, look now" (layer.publish);
    `poll_seconds`, how often the poller looks when no nudge comes."""

    key = group = ""
    poll_seconds = POLL_SECONDS

    @abc.abstractmethod
    def read_state(self):
        """A JSON-able dict describing the stream's owner now, or None if it is gone."""

    def read_lines(self, after, limit):
        """Up to `limit` rows with seq > after, in seq order: dicts with seq, stream, line, at."""
        return []

    def last_seq(self):
        """The highest seq stored so far (0 for none)."""
        return 0

    def read_last(self, limit):
        """The last `limit` rows (fewer if there are fewer), in seq order."""
        last = self.last_seq()
        return self.read_lines(max(0, last - limit), limit) if last else []

    def is_finished(self, state):
        """True once no line will ever be added (a job log after its job ended)."""
        return state is None


class LineSource(Source):
    """The lines of one owner in a `NumberedLine` model (`lines`); subclasses read the state."""

    lines = None  # the NumberedLine model

    def __init__(self, owner_id, group):
        self.owner_id = owner_id
        self.key = self.group = group

    def read_lines(self, after, limit):
        return self.lines.objects.rows_after(self.owner_id, after, limit)

    def last_seq(self):
        return self.lines.objects.last_seq(self.owner_id)
