"""One poller per stream per web process (`Tail`), however many people watch it.

The database is the source of truth. The poller reads new rows by seq and the state, hands
them to every viewer's queue (viewer.py) and keeps the latest (RECENT): viewers joining a
running stream replay from there, encoded once for all who join at the same point (200 people
opening a job's page in one second cost one read). A nudge (layer.Subscription) wakes it at
once; it polls regardless, so a lost nudge only costs latency.
"""

import asyncio
import collections
import itertools
import logging
import time
import weakref

from channels.db import DatabaseSyncToAsync

from . import layer
from .events import End, Failed, Lines, Ping, Resync, State
from .source import BATCH

log = logging.getLogger(__name__)

RECENT = 2000  # lines each poller keeps for viewers that join (about a megabyte)
VIEWER_QUEUE = 256
KEEPALIVE_SECONDS = 15
# A poller sends its viewers at most this many frames a second in all: it looks at most once
# per frame of viewers / SENDS_PER_SECOND (one viewer: every line at once; 100: 12.5 ms; at most
# 0.1 s), and lines that come faster go out together. A job printing every 10 ms to 200 viewers
# cost two web processes 113 % of a core unframed, 63 % at 25 ms frames; 50 ms frames saved
# more but cost the live bench its p99 (bench/README.md).
SENDS_PER_SECOND = 8000


def frame_seconds(viewers):
    return min(0.1, viewers / SENDS_PER_SECOND)


def db(fn):
    """A read in a pooled thread, not Django's one thread-sensitive thread; Channels' wrapper
    drops a broken connection and gives PostgreSQL's back to the pool between polls."""
    return DatabaseSyncToAsync(fn, thread_sensitive=False)


async def iter_chunks(source, after=0):
    """Every persisted row after `after`, in seq-ordered chunks."""
    while True:
        rows = await db(source.read_lines)(after, BATCH)
        if rows:
            yield rows
            after = rows[-1]["seq"]
        if len(rows) < BATCH:
            return


_tails_by_loop = weakref.WeakKeyDictionary()  # event loop -> {source key: its Tail}


def _tails():
    return _tails_by_loop.setdefault(asyncio.get_running_loop(), {})


def tail_for(source):
    tails = _tails()
    if source.key not in tails or tails[source.key].ended:
        # An ended tail publishes nothing more: a new viewer needs a fresh poller.
        tails[source.key] = Tail(source)
    return tails[source.key]


class Tail:
    def __init__(self, source):
        self.source = source
        self.viewers = set()
        self.wake = asyncio.Event()
        self.task = None
        self.ready = asyncio.Event()
        self.ended = False  # the stream ended (every line is in `recent`) or the poller failed
        self.failed = False
        self.last_seq = 0  # the last line read and published
        self.recent = collections.deque(maxlen=RECENT)  # the rows up to last_seq, in order
        self.replayed = None  # (after, last_seq, events) of the last replay from `recent`
        # Read the state on the next look (not only new lines): the first look reads it
        # again, as a change may have come between it and the lines.
        self.state_stale = True
        self.state = None  # the state as last read (None until the poller starts)
        self.published_state = None  # the state last sent to viewers
        self.loop = asyncio.get_running_loop()  # tail_for makes it in the loop it serves
        self.published_at = time.monotonic()  # when viewers were last sent anything
        self.looked_at = 0.0  # when the poller last read

    async def subscribe(self):
        """Join; the viewer's queue, once the poller knows where it starts: at the max seq read
        *before* the viewer replays, so every row is in the replay or published (or both)."""
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
        """The rows after `after` that this poller has read, as `Lines` of at most BATCH
        rows; None if `after` is older than what it keeps."""
        if not self.ready.is_set() or self.failed:
            return None
        if not self.recent:
            return [] if after >= self.last_seq else None
        first = self.recent[0]["seq"]
        if after < first - 1:
            return None
        if self.replayed is None or self.replayed[:2] != (after, self.last_seq):
            rows = list(itertools.islice(self.recent, max(0, after - first + 1), None))
            # Viewers that arrive together ask for the same replay: encoded once.
            batches = [Lines(rows[i : i + BATCH]) for i in range(0, len(rows), BATCH)]
            self.replayed = (after, self.last_seq, batches)
        return self.replayed[2]

    def _publish(self, event):
        self.published_at = time.monotonic()
        for queue in self.viewers:
            try:
                queue.put_nowait(event)
            except asyncio.QueueFull:
                # A viewer that cannot keep up gets one Resync instead of a growing backlog;
                # it then reads what it missed from the database itself.
                while not queue.empty():
                    queue.get_nowait()
                queue.put_nowait(Resync())

    def _nudged(self, seq):
        # In the wake-up bus's thread (or the Redis listener's task). A nudge naming a line is
        # about lines only; one for lines already read (datagram and Redis both bring it) is dropped.
        if seq is None:
            self.state_stale = True
        elif seq <= self.last_seq:
            return
        self.loop.call_soon_threadsafe(self.wake.set)

    async def _run(self):
        nudges = layer.Subscription(self.source.group, self._nudged, self.loop)
        try:
            await self._start()
            while self.viewers and not await self._look():
                await self._wait()
        except Exception:
            log.exception("tail of %s failed; viewers will reconnect", self.source.key)
            self.ended = self.failed = True
            self._publish(Failed())
        finally:
            self.ready.set()  # never leave a subscriber waiting on a failed start
            nudges.close()
            if _tails().get(self.source.key) is self:
                del _tails()[self.source.key]

    async def _start(self):
        # The state a viewer joining now starts from (read first: a finished state means every
        # line is written) and the lines it replays from memory: a crowd arriving reads neither.
        source = self.source
        self.state = await db(source.read_state)()
        self.recent.extend(await db(source.read_last)(RECENT))
        self.last_seq = self.recent[-1]["seq"] if self.recent else 0  # read_last found none
        self.ready.set()

    async def _look(self):
        """Publish what is new; True once the stream ended."""
        source = self.source
        self.looked_at = time.monotonic()
        if self.state_stale or self.state is None:
            self.state_stale = False
            # State first, then the rows, in one trip: a finished state means they are all in.
            after = self.last_seq
            self.state, rows = await db(lambda: (source.read_state(), source.read_lines(after, BATCH)))()
        else:
            rows = await db(source.read_lines)(self.last_seq, BATCH)
        while rows:
            self.last_seq = rows[-1]["seq"]
            self.recent.extend(rows)
            self._publish(Lines(rows))
            rows = await db(source.read_lines)(self.last_seq, BATCH) if len(rows) == BATCH else []
        if self.state != self.published_state:
            self.published_state = self.state
            self._publish(State(self.state))
        if source.is_finished(self.state):
            # State was read before the rows, so every line is out by now.
            self.ended = True
            self._publish(End())
            return True
        return False

    async def _wait(self):
        self.wake.clear()
        try:
            await asyncio.wait_for(self.wake.wait(), self.source.poll_seconds)
        except TimeoutError:
            self.state_stale = True  # the poll looks at everything: nudges may be lost
        if time.monotonic() - self.published_at >= KEEPALIVE_SECONDS:
            self._publish(Ping())
        pause = self.looked_at + frame_seconds(len(self.viewers)) - time.monotonic()
        if pause > 0 and self.viewers:
            await asyncio.sleep(pause)
