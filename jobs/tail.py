"""The one log tail behind both live transports (WebSocket and SSE).

The database is the source of truth. Per web process there is at most one poller
per job (`JobTail`), however many people watch it: it reads new rows by seq and
the job's state, then hands them to every viewer's queue. Each viewer
(`stream_job`) replays what it has not seen from the database, then follows the
poller, keeping its own last seq so it never repeats a line and filling any gap
(a late join, a dropped batch) from the database so it never loses one.

Where a cross-process channel layer exists (Redis), the worker's nudge wakes the
poller at once; polling continues regardless, so a lost nudge only costs latency.
"""

import asyncio
import logging
import weakref

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from .models import FINISHED_STATES, Job, JobLog
from .notify import job_group, new_layer

log = logging.getLogger(__name__)

POLL_SECONDS = 0.1
BATCH = 1000
VIEWER_QUEUE = 256
KEEPALIVE_SECONDS = 15


# --- database reads (sync; run in a thread pool) ---------------------------


def fetch_lines(job_id, after, limit=BATCH):
    return list(
        JobLog.objects.filter(job_id=job_id, seq__gt=after)
        .order_by("seq")
        .values("seq", "stream", "line")[:limit]
    )


def fetch_state(job_id):
    row = (
        Job.objects.filter(pk=job_id)
        .values("state", "exit_code", "started_at", "finished_at", "cancel_requested_at")
        .first()
    )
    if row is None:
        return None
    for key in ("started_at", "finished_at", "cancel_requested_at"):
        row[key] = row[key].isoformat() if row[key] else None
    return row


def _db(fn):
    """Run a read in a pooled thread; a broken connection is dropped, then re-raised."""

    def guarded(*args):
        try:
            return fn(*args)
        except Exception:
            close_old_connections()
            raise

    return sync_to_async(guarded, thread_sensitive=False)


db_fetch_lines = _db(fetch_lines)
db_fetch_state = _db(fetch_state)


def is_finished(state):
    return state is not None and state["state"] in FINISHED_STATES


async def iter_log_chunks(job_id, after=0):
    """Every persisted row after `after`, in seq-ordered chunks."""
    while True:
        rows = await db_fetch_lines(job_id, after)
        if rows:
            yield rows
            after = rows[-1]["seq"]
        if len(rows) < BATCH:
            return


# --- one poller per job per process ---------------------------------------

_tails_by_loop = weakref.WeakKeyDictionary()


def _tails():
    return _tails_by_loop.setdefault(asyncio.get_running_loop(), {})


class JobTail:
    def __init__(self, job_id):
        self.job_id = job_id
        self.viewers = set()
        self.wake = asyncio.Event()
        self.task = None
        self.ready = asyncio.Event()
        self.ended = False
        self.listening = False
        self.polls = 0  # database round trips, for the benchmark's queries-per-second

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

    def _publish(self, event):
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
        self.listening = bool(settings.REDIS_URL)
        listener = asyncio.create_task(self._listen()) if self.listening else None
        last_state = None
        try:
            # Viewers replay history themselves; the poller only needs what is new.
            last_seq = await _db(_max_seq)(self.job_id)
            self.ready.set()
            while self.viewers:
                state = await db_fetch_state(self.job_id)
                async for rows in iter_log_chunks(self.job_id, last_seq):
                    last_seq = rows[-1]["seq"]
                    self._publish(("lines", rows))
                self.polls += 2
                if state != last_state:
                    last_state = state
                    self._publish(("state", state))
                if state is None or is_finished(state):
                    # State was read before the rows, so every line is out by now.
                    self.ended = True
                    self._publish(("end",))
                    return
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), POLL_SECONDS)
                except TimeoutError:
                    pass
        except Exception:
            log.exception("tail of job %s failed; viewers will reconnect", self.job_id)
            self.ended = True
            self._publish(("error",))
        finally:
            self.ready.set()  # never leave a subscriber waiting on a failed start
            if listener:
                self.listening = False
                listener.cancel()
            if _tails().get(self.job_id) is self:
                del _tails()[self.job_id]

    async def _listen(self):
        """Wake the poller on the worker's channel-layer nudge (Redis only).

        Stops on `self.listening` going false, not on cancellation alone: redis-py
        can turn a cancel that lands mid-read into a TimeoutError, which would
        otherwise look like a Redis hiccup and keep this loop alive forever.
        """
        layer = new_layer()
        try:
            while self.listening:
                try:
                    channel = await layer.new_channel()
                    await layer.group_add(job_group(self.job_id), channel)
                    try:
                        while self.listening:
                            await layer.receive(channel)
                            self.wake.set()
                    finally:
                        await _bounded(layer.group_discard(job_group(self.job_id), channel))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis away: polling carries on alone
                    if not self.listening:
                        return
                    log.warning("channel layer unavailable for job %s: %s", self.job_id, exc)
                    await asyncio.sleep(1)
        finally:
            await _bounded(layer.close_pools())  # one private layer per tail: give its connections back


async def _bounded(cleanup, seconds=2):
    """Clean up on the channel layer, but never let a sick Redis keep a tail alive."""
    try:
        await asyncio.wait_for(cleanup, seconds)
    except Exception as exc:
        log.warning("channel layer cleanup failed: %r", exc)


def _max_seq(job_id):
    return JobLog.objects.filter(job_id=job_id).order_by("-seq").values_list("seq", flat=True).first() or 0


def tail_for(job_id):
    tails = _tails()
    if job_id not in tails or tails[job_id].ended:
        # An ended tail publishes nothing more: a new viewer needs a fresh poller.
        tails[job_id] = JobTail(job_id)
    return tails[job_id]


# --- one viewer ------------------------------------------------------------


async def stream_job(job_id, after=0):
    """Events for one viewer: ("state", dict), ("lines", rows), ("ping",), ("end",).

    Lines come in seq order from `after` + 1, with no gap and no repeat.
    """
    tail = tail_for(job_id)
    queue = await tail.subscribe()  # before the replay, so nothing written meanwhile is missed
    try:
        last = after

        async def catch_up(upto=None):
            nonlocal last
            async for rows in iter_log_chunks(job_id, last):
                if upto is not None:
                    rows = [r for r in rows if r["seq"] < upto]
                if rows:
                    last = rows[-1]["seq"]
                    yield rows
                if upto is not None and last >= upto - 1:
                    return

        state = await db_fetch_state(job_id)
        if state is None:
            return
        yield ("state", state)
        async for rows in catch_up():
            yield ("lines", rows)
        if is_finished(state):
            yield ("end",)
            return
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ("ping",)
                continue
            kind = event[0]
            if kind == "lines":
                rows = [r for r in event[1] if r["seq"] > last]
                if rows and rows[0]["seq"] != last + 1:
                    async for gap in catch_up(upto=rows[0]["seq"]):
                        yield ("lines", gap)
                if rows:
                    last = rows[-1]["seq"]
                    yield ("lines", rows)
            elif kind == "state":
                if event[1] != state:
                    state = event[1]
                    yield ("state", state)
            elif kind == "resync":
                async for rows in catch_up():
                    yield ("lines", rows)
            elif kind == "end":
                async for rows in catch_up():
                    yield ("lines", rows)
                final = await db_fetch_state(job_id)
                if final != state and final is not None:
                    yield ("state", final)
                yield ("end",)
                return
            elif kind == "error":
                raise RuntimeError("log tail failed")
    finally:
        tail.unsubscribe(queue)
