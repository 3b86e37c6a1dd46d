"""Wire formats of the live stream (DESIGN.md §4): WebSocket frames, Server-Sent Events."""

from .layer import dumps

# Characters of log text per "lines" frame. A job that printed a 10 MB line (stored
# as 4 KiB rows) must not become multi-megabyte frames: common clients refuse
# messages over 1 MiB (Python's `websockets` by default).
FRAME_CHARS = 200_000


def parse_after(value):
    """A resume point: a non-negative integer seq; anything else is a client error."""
    if value in (None, ""):
        return 0
    if not value.isdigit():
        raise ValueError(f"after must be a non-negative integer seq, not {value[:40]!r}")
    return int(value)


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


def websocket_messages(event):
    """The JSON messages (dicts) one `tail.follow` event becomes on a WebSocket."""
    kind = event[0]
    if kind == "lines":
        return [{"type": "lines", "lines": batch} for batch in split_lines(event[1])]
    if kind == "state":
        return [{"type": "state", **event[1]}]
    if kind == "end":
        return [{"type": "end"}]
    return []  # pings: WebSocket has its own keep-alive


async def sse_text(events):
    """`tail.follow` events as Server-Sent Events text; `id:` is the seq, for Last-Event-ID."""
    yield "retry: 2000\n\n"
    async for event in events:
        kind = event[0]
        if kind == "lines":
            yield "".join(f"id: {row['seq']}\nevent: line\ndata: {dumps(row)}\n\n" for row in event[1])
        elif kind == "state":
            yield f"event: state\ndata: {dumps(event[1])}\n\n"
        elif kind == "ping":
            yield ": keep-alive\n\n"
        elif kind == "end":
            yield "event: end\ndata: {}\n\n"
