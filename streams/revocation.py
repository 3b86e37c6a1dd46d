"""Open streams that end when their viewer loses the right to them (DESIGN.md §11).

Removing a member or one of their permissions takes effect at once, open WebSockets included.
Whoever changes who may see something calls `changed(key)` (a server's id), published to the
group "access". Each event loop has one watcher: the streams open for that key check again
(each says how when it asks to be watched), and one whose viewer may no longer follow it is
closed. A sweep every SWEEP seconds checks them all: a lost nudge costs seconds, no more.
"""

import asyncio
import logging
import weakref
from collections import defaultdict

from . import layer

log = logging.getLogger(__name__)

GROUP = "access"
SWEEP = 10.0


def changed(key):
    """Who may see `key` changed: its open streams check again now, in every process."""
    layer.publish(GROUP, {"type": "access.changed", "seq": key})


class Watcher:
    def __init__(self, loop):
        self.loop = loop
        self.streams = defaultdict(dict)  # key -> {stream: its check}
        # Ends with its loop (a test's): a nudge after that unsubscribes.
        self.nudges = layer.Subscription(GROUP, self._nudged, loop)
        loop.create_task(self._sweep())

    def _nudged(self, key):
        # In the local bus's thread, or the Redis listener's task.
        try:
            self.loop.call_soon_threadsafe(self.recheck, key)
        except RuntimeError:  # the loop has closed: nobody is watching any more
            self.nudges.close()

    def add(self, key, stream, check):
        """Watch `stream` (it has `revoke()`): `check()` is awaited to ask if its viewer still may."""
        self.streams[key][stream] = check

    def discard(self, key, stream):
        watched = self.streams.get(key)
        if watched is not None:
            watched.pop(stream, None)
            if not watched:
                del self.streams[key]

    def recheck(self, key):
        for stream, check in list(self.streams.get(key, {}).items()):
            self.loop.create_task(_enforce(stream, check))

    async def _sweep(self):
        while True:
            await asyncio.sleep(SWEEP)
            for key in list(self.streams):
                self.recheck(key)


async def _enforce(stream, check):
    try:
        allowed = await check()
    except Exception:
        log.exception("access check of a stream failed; it stays open until the next one")
        return
    if not allowed:
        await stream.revoke()


_watchers = weakref.WeakKeyDictionary()


def watcher():
    """The watcher of the running event loop."""
    loop = asyncio.get_running_loop()
    if loop not in _watchers:
        _watchers[loop] = Watcher(loop)
    return _watchers[loop]
