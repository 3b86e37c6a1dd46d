"""What a stream tells its viewers (tail.py publishes, viewer.py yields), and its two wire
formats: WebSocket frames and Server-Sent Events (DESIGN.md §4). `Resync` and `Failed` stay
between the poller and its viewers."""

from dataclasses import dataclass, field

from .layer import dumps

# Characters of log text per "lines" frame. A job that printed a 10 MB line (stored
# as 4 KiB rows) must not become multi-megabyte frames: common clients refuse
# messages over 1 MiB (Python's `websockets` by default).
FRAME_CHARS = 200_000


@dataclass(eq=False)
class Lines:
    """Rows (dicts with seq, stream, line, at) in seq order, no gaps."""

    rows: list
    # The WebSocket frames, encoded the first time a viewer asks: every viewer in step
    # with the poller sends this very event, so a crowd costs one encoding.
    texts: list | None = field(default=None, repr=False)

    @property
    def last(self):
        return self.rows[-1]["seq"]

    def within(self, after=0, before=None):
        """These lines with after < seq < before (this event itself when that is all of them)."""
        rows = [r for r in self.rows if r["seq"] > after and (before is None or r["seq"] < before)]
        return self if len(rows) == len(self.rows) else Lines(rows)


@dataclass(frozen=True)
class State:
    """What the stream's owner looks like now (a JSON-able dict)."""

    state: dict


@dataclass(frozen=True)
class End:
    """Every line was sent and no more will come."""


@dataclass(frozen=True)
class Ping:
    """A quiet stream still says something now and then, so proxies keep the connection."""


@dataclass(frozen=True)
class Resync:  # to a viewer that fell behind: what it missed was dropped, read the database
    pass


@dataclass(frozen=True)
class Failed:  # the poller failed (the database went away): viewers end, browsers reconnect
    pass


def split_lines(rows):
    """Split rows (in seq order) into runs of at most FRAME_CHARS characters of text."""
    batch, size = [], 0
    for row in rows:
        if batch and size + len(row["line"]) > FRAME_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += len(row["line"])
    if batch:
        yield batch


def parse_after(value):
    """A resume point: a non-negative integer seq; anything else is a client error."""
    if value in (None, ""):
        return 0
    if not value.isdigit():
        raise ValueError(f"after must be a non-negative integer seq, not {value[:40]!r}")
    return int(value)


def websocket_texts(event):
    """The WebSocket frames of an event a viewer yields."""
    match event:
        case Lines():
            if event.texts is None:
                event.texts = [dumps({"type": "lines", "lines": batch}) for batch in split_lines(event.rows)]
            return event.texts
        case State():
            return [dumps({"type": "state", **event.state})]
        case End():
            return [dumps({"type": "end"})]
    return []  # a Ping: WebSocket has its own keep-alive


async def sse_text(events):
    """A viewer's events as Server-Sent Events text; `id:` is the seq, for Last-Event-ID."""
    yield "retry: 2000\n\n"
    async for event in events:
        if isinstance(event, Lines):
            yield "".join(f"id: {row['seq']}\nevent: line\ndata: {dumps(row)}\n\n" for row in event.rows)
        elif isinstance(event, State):
            yield f"event: state\ndata: {dumps(event.state)}\n\n"
        else:
            yield ": keep-alive\n\n" if isinstance(event, Ping) else "event: end\ndata: {}\n\n"
