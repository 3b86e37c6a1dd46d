"""The one log tail behind every live transport (WebSocket and SSE, job logs and consoles).

The database is the source of truth. Per web process there is at most one poller
per stream (`Tail`), however many people watch it: it reads new rows by seq and
the stream's state, then hands them to every viewer's queue. Each viewer
(`follow`) replays what it has not seen from the database, then follows the
poller, keeping its own last seq so it never repeats a line and filling any gap
(a late join, a dropped batch) from the database so it never loses one.

The poller also keeps the stream's latest lines (RECENT) in memory, so a viewer that
joins a running stream replays from there, with its frames encoded once for everyone
who joins at the same point: two hundred people opening a job's page in the same
second cost one database read, not two hundred.

The writer's nudge wakes the poller at once: a local datagram from a writer on this
host (streams.wake), a Redis message from anywhere; polling continues regardless,
so a lost nudge only costs latency.
"""

import asyncio
import collections
import itertools
import logging
import time
import weakref
from abc import ABC, abstractmethod

from channels.db import DatabaseSyncToAsync

from . import frames, layer, wake

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
BATCH = 1000
RECENT = 2000  # lines each poller keeps for viewers that join (about a megabyte)
VIEWER_QUEUE = 256
KEEPALIVE_SECONDS = 15


class Source(ABC):
    """One stream of numbered lines and its state; subclasses read them (sync, from the DB).

    `key` names the stream within a process (one poller per key); `group` is the
    channel-layer group whose messages mean "something changed, look now".
    """

    key = ""
    group = ""
    # How often the poller looks when no nudge comes (a state-only source may look less often).
    poll_seconds = POLL_SECONDS

    @abstractmethod
    def read_lines(self, after, limit):
        """Up to `limit` rows with seq > after, in seq order: dicts with seq, stream, line, at."""

    @abstractmethod
    def read_state(self):
        """A JSON-able dict describing the stream's owner now, or None if it is gone."""

    @abstractmethod
    def last_seq(self):
        """The highest seq stored so far (0 for none)."""

    def read_last(self, limit):
        """The last `limit` rows (fewer if there are fewer), in seq order."""
        last = self.last_seq()
        return self.read_lines(max(0, last - limit), limit) if last else []

    def read_new(self, after):
        """The state, then the rows after `after` (at most BATCH): one trip to the database thread.

        State first: a finished state read before the rows means every row is in them.
        """
        return self.read_state(), self.read_lines(after, BATCH)

    def is_finished(self, state):
        """True once no line will ever be added (a job log after its job ended)."""
        return state is None


def _db(fn):
    """Run a read in a pooled thread (not Django's one thread-sensitive thread). Channels'
    wrapper cleans up the thread's connection before and after: a broken one is dropped,
    and on PostgreSQL it goes back to the pool between polls instead of being held by an
    idle thread."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False)


async def read_state(source):
    return await _db(source.read_state)()


async def iter_chunks(source, after=0):
    """Every persisted row after `after`, in seq-ordered chunks."""
    while True:
        rows = await _db(source.read_lines)(after, BATCH)
        if rows:
            yield rows
            after = rows[-1]["seq"]
        if len(rows) < BATCH:
            return


# --- one poller per stream per process -----------------------------------------

_tails_by_loop = weakref.WeakKeyDictionary()


def _tails():
    return _tails_by_loop.setdefault(asyncio.get_running_loop(), {})


class Tail:
    def __init__(self, source):
        self.source = source
        self.viewers = set()
        self.wake = asyncio.Event()
        self.task = None
        self.ready = asyncio.Event()
        self.ended = False  # the stream ended (every line is in `recent`) or the poller failed
        self.failed = False
        self.listening = False
        self.last_seq = 0  # the last line read and published
        self.recent = collections.deque(maxlen=RECENT)  # the rows up to last_seq, in order
        self.replayed = None  # (after, last_seq, frames) of the last replay from `recent`
        self.state_stale = True  # read the state on the next look (not only new lines): the
        # first look reads it again, as a change may have come between it and the lines
        self.state = None  # the state as last read (None until the poller starts)
        self.published_at = time.monotonic()  # when viewers were last sent anything

    async def subscribe(self):
        """Join; returns once the poller knows where it starts.

        The poller starts at the max seq read *before* the new viewer replays, so
        every row is either in that replay or published by the poller (or both:
        the viewer drops repeats by seq).
        """
        queue = asyncio.Queue(VIEWER_QUEUE)
        self.viewers.add(queue)
        if self.task is None or self.task.done():
            self.ready = asyncio.Event()
            self.task = asyncio.create_task(self._run())
        await self.ready.wait()
        return queue

    def unsubscribe(self, queue):
        self.viewers.discard(queue)
        if not self.viewers:
            self.wake.set()  # let the poller notice and stop

    def replay(self, after):
        """The rows after `after` that this poller has read, as ("lines", rows, frames)
        events of at most BATCH rows; None if `after` is older than what it keeps."""
        if not self.ready.is_set() or self.failed:
            return None
        if not self.recent:
            return [] if after >= self.last_seq else None
        first = self.recent[0]["seq"]
        if after < first - 1:
            return None
        if self.replayed is None or self.replayed[:2] != (after, self.last_seq):
            rows = list(itertools.islice(self.recent, max(0, after - first + 1), None))
            batches = [rows[i : i + BATCH] for i in range(0, len(rows), BATCH)]
            # Viewers that arrive together ask for the same replay: encode it once.
            self.replayed = (after, self.last_seq, [("lines", b, SharedFrames(b)) for b in batches])
        return self.replayed[2]

    def _publish(self, event):
        self.published_at = time.monotonic()
        for queue in self.viewers:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A viewer that cannot keep up gets one "resync" instead of a growing
                # backlog; it then reads what it missed from the database itself.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(("resync",))

    async def _run(self):
        source = self.source
        loop = asyncio.get_running_loop()

        def nudged(seq):
            # A nudge that names a line is about lines only: the state need not be read again.
            # One for lines we already read (the datagram and Redis both bring it) costs nothing.
            if seq is None:
                self.state_stale = True
            elif seq <= self.last_seq:
                return
            loop.call_soon_threadsafe(self.wake.set)

        # Same-host writers wake us through a datagram, others through Redis.
        local = wake.bus.subscribe(source.group, nudged)
        self.listening = layer.enabled()
        listener = None
        if self.listening:
            listener = asyncio.create_task(
                layer.listen(source.group, lambda message: nudged(message.get("seq")), lambda: self.listening)
            )
        last_state = None
        try:
            # The state a viewer joining now starts from (read first: a finished state
            # means every line is written), and the lines it replays from memory; older
            # lines it reads itself. A crowd arriving with the poller reads neither.
            self.state = await _db(source.read_state)()
            self.recent.extend(await _db(source.read_last)(RECENT))
            self.last_seq = self.recent[-1]["seq"] if self.recent else await _db(source.last_seq)()
            self.ready.set()
            while self.viewers:
                if self.state_stale or self.state is None:
                    self.state_stale = False
                    self.state, rows = await _db(source.read_new)(self.last_seq)
                else:
                    rows = await _db(source.read_lines)(self.last_seq, BATCH)
                while rows:
                    self.last_seq = rows[-1]["seq"]
                    self.recent.extend(rows)
                    # Encoded once for every viewer that is in step (most of them).
                    self._publish(("lines", rows, SharedFrames(rows)))
                    rows = await _db(source.read_lines)(self.last_seq, BATCH) if len(rows) == BATCH else []
                if self.state != last_state:
                    last_state = self.state
                    self._publish(("state", self.state))
                if source.is_finished(self.state):
                    # State was read before the rows, so every line is out by now.
                    self.ended = True
                    self._publish(("end",))
                    return
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), source.poll_seconds)
                except TimeoutError:
                    self.state_stale = True  # the poll looks at everything: nudges may be lost
                if time.monotonic() - self.published_at >= KEEPALIVE_SECONDS:
                    # A quiet stream still says something now and then, so proxies and
                    # browsers keep the connection open.
                    self._publish(("ping",))
        except Exception:
            log.exception("tail of %s failed; viewers will reconnect", source.key)
            self.ended = self.failed = True
            self._publish(("error",))
        finally:
            self.ready.set()  # never leave a subscriber waiting on a failed start
            wake.bus.unsubscribe(local)
            if listener:
                self.listening = False
                listener.cancel()
            if _tails().get(source.key) is self:
                del _tails()[source.key]


class SharedFrames:
    """The WebSocket messages of one batch of rows, encoded the first time a viewer asks."""

    def __init__(self, rows):
        self.rows = rows
        self.texts = None

    def encoded(self):
        if self.texts is None:
            self.texts = [layer.dumps(message) for message in frames.websocket_messages(("lines", self.rows))]
        return self.texts


def _merge_waiting(event, queue):
    """This lines event and the lines events queued right behind it, as one; and the
    event that stopped the merge (taken from the queue: the viewer handles it next), or None.

    A viewer that fell behind (a slow phone, a busy server) then catches up in one
    frame instead of one per batch, which is what let it fall behind in the first place.
    """
    merged, stopped = None, None
    while stopped is None and not queue.empty():
        following = queue.get_nowait()
        if following[0] == "lines":
            merged = (merged or list(event[1])) + following[1]
        else:
            stopped = following
    return (event if merged is None else ("lines", merged)), stopped


def tail_for(source):
    tails = _tails()
    if source.key not in tails or tails[source.key].ended:
        # An ended tail publishes nothing more: a new viewer needs a fresh poller.
        tails[source.key] = Tail(source)
    return tails[source.key]


# --- one viewer ------------------------------------------------------------


async def follow(source, after=0):
    """Events for one viewer: ("state", dict), ("lines", rows), ("ping",), ("end",).

    Lines come in seq order from `after` + 1, with no gap and no repeat.
    """
    tail = tail_for(source)
    queue = await tail.subscribe()  # before the replay, so nothing written meanwhile is missed
    try:
        last = after

        async def catch_up(upto=None, database=True):
            """Lines after `last` (below `upto`): from the poller's memory, then the database.

            Yields ("lines", rows[, frames]) events. With database=False and the memory
            covering `last`, only the memory: the poller publishes whatever comes after it.
            """
            nonlocal last
            kept = tail.replay(last)
            for event in kept or ():
                rows = event[1] if upto is None else [r for r in event[1] if r["seq"] < upto]
                if rows:
                    last = rows[-1]["seq"]
                    yield event if len(rows) == len(event[1]) else ("lines", rows)
            if (upto is not None and last >= upto - 1) or (kept is not None and not database):
                return
            async for rows in iter_chunks(source, last):
                if upto is not None:
                    rows = [r for r in rows if r["seq"] < upto]
                if rows:
                    last = rows[-1]["seq"]
                    yield ("lines", rows)
                if upto is not None and last >= upto - 1:
                    return

        # The poller's last look is at most a poll old, and any change after it reaches
        # this viewer's queue: a crowd joining at once costs no read each.
        state = tail.state if tail.state is not None else await read_state(source)
        if state is None:
            return
        yield ("state", state)
        finished = source.is_finished(state)
        async for event in catch_up(database=finished):
            yield event
        if finished:
            yield ("end",)
            return
        held = None  # an event the merging of lines took from the queue: next in line
        while True:
            if held is not None:
                event, held = held, None
            else:
                # A plain get, not a wait_for: this runs once per batch per viewer, and
                # the poller sends the keepalive pings (one timer per stream, not per viewer).
                event = await queue.get()
            kind = event[0]
            if kind == "lines":
                event, held = _merge_waiting(event, queue)
                rows = [r for r in event[1] if r["seq"] > last]
                if rows and rows[0]["seq"] != last + 1:
                    async for gap in catch_up(upto=rows[0]["seq"]):
                        yield gap
                if rows:
                    last = rows[-1]["seq"]
                    # In step with the poller: its frames, already encoded, fit as they are.
                    in_step = len(event) == 3 and len(rows) == len(event[1])
                    yield ("lines", rows, event[2]) if in_step else ("lines", rows)
            elif kind == "state":
                if event[1] != state:
                    state = event[1]
                    yield ("state", state)
            elif kind == "resync":
                async for caught in catch_up():
                    yield caught
            elif kind == "end":
                # The poller read the final state, then every line after it: both are in
                # its memory, so a crowd watching a job finish costs the database nothing.
                async for caught in catch_up(database=False):
                    yield caught
                if tail.state != state and tail.state is not None:
                    yield ("state", tail.state)
                yield ("end",)
                return
            elif kind == "ping":
                yield event
            elif kind == "error":
                raise RuntimeError("log tail failed")
    finally:
        tail.unsubscribe(queue)
