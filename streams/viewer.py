"""One viewer of a stream: `Viewer(source, after)` iterates its events (events.py): a `State`,
then `Lines` from seq `after` + 1 in order, `State` on every change, `Ping` now and then, `End`
once finished. It keeps its own last seq: a repeat from the poller is dropped, a gap (a late
join, a dropped batch) is filled from the poller's memory or the database."""

from .events import End, Failed, Lines, Ping, Resync, State
from .tail import db, iter_chunks, tail_for


class Viewer:
    def __init__(self, source, after=0):
        self.source = source
        self.last = after  # the last seq this viewer was given
        self.state = None
        self.tail = self.queue = None
        self.held = None  # an event the merging of lines took from the queue: next in line

    async def __aiter__(self):
        # Subscribed before the replay, so nothing written meanwhile is missed.
        self.tail = tail_for(self.source)  # the poller of the loop this viewer runs in
        self.queue = await self.tail.subscribe()
        try:
            # The poller's last look is at most a poll old, and any change after it reaches
            # this viewer's queue: a crowd joining at once costs no read each.
            self.state = self.tail.state or await db(self.source.read_state)()
            if self.state is None:
                return
            yield State(self.state)
            finished = self.source.is_finished(self.state)
            async for lines in self._catch_up(database=finished):
                yield lines
            if finished:
                yield End()
                return
            async for event in self._follow():
                yield event
        finally:
            self.tail.unsubscribe(self.queue)

    async def _follow(self):
        while True:
            match event := await self._next():
                case Lines():
                    async for lines in self._step(event):
                        yield lines
                case State(state=state) if state != self.state:
                    self.state = state
                    yield event
                case Resync():
                    async for lines in self._catch_up():
                        yield lines
                case End():
                    # The poller read the final state, then every line after it: both are in
                    # its memory, so a crowd watching a job finish costs the database nothing.
                    async for lines in self._catch_up(database=False):
                        yield lines
                    if self.tail.state not in (None, self.state):
                        yield State(self.tail.state)
                    yield event
                    return
                case Ping():
                    yield event
                case Failed():
                    raise RuntimeError("log tail failed")

    async def _next(self):
        """The next event from the poller, with the lines queued right behind lines merged into
        one: a viewer that fell behind (a slow phone) catches up in one frame, not one a batch."""
        if self.held is not None:
            event, self.held = self.held, None
            return event
        event = await self.queue.get()  # no timeout: the poller sends the keep-alive pings
        if not isinstance(event, Lines):
            return event
        merged = None
        while not self.queue.empty():
            following = self.queue.get_nowait()
            if not isinstance(following, Lines):
                self.held = following
                break
            merged = (merged or list(event.rows)) + following.rows
        return event if merged is None else Lines(merged)

    async def _step(self, event):
        """The poller's lines, past what this viewer has, with any gap before them filled."""
        lines = event.within(after=self.last)
        if not lines.rows:
            return
        if lines.rows[0]["seq"] != self.last + 1:
            async for gap in self._catch_up(upto=lines.rows[0]["seq"]):
                yield gap
        self.last = lines.last
        # In step with the poller: its event, frames already encoded, fits as it is.
        yield lines

    async def _catch_up(self, upto=None, database=True):
        """Lines after `self.last` (below `upto`): from the poller's memory, then the database.

        With database=False and the memory covering `self.last`, only the memory: the poller
        publishes whatever comes after it.
        """
        kept = self.tail.replay(self.last)
        for batch in kept or ():
            lines = batch.within(before=upto)
            if lines.rows:
                self.last = lines.last
                yield lines
        if (upto is not None and self.last >= upto - 1) or (kept is not None and not database):
            return
        async for rows in iter_chunks(self.source, self.last):
            lines = Lines(rows).within(before=upto)
            if lines.rows:
                self.last = lines.last
                yield lines
            if upto is not None and self.last >= upto - 1:
                return
