"""Cross-process nudges, best effort: local datagrams (streams.wake) and, where configured, the
Redis channel layer, whose sends are fire-and-forget on one background event loop per process
(a log flush never waits on Redis). Every reader also polls the database, so a lost nudge only
costs latency, never a line."""

import asyncio
import json
import logging
import threading

from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.conf import settings

from . import wake

log = logging.getLogger(__name__)


def dumps(data):
    """Compact JSON with text kept as text: the one encoding of every frame we send."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def enabled():
    return bool(settings.REDIS_URL)  # the in-memory layer reaches no other process


def new_layer():
    """A private channel layer instance: Redis layers are bound to the loop that uses them."""
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


_publisher = None  # (event loop in a thread of its own, its channel layer), made on first use
_publisher_lock = threading.Lock()


def publish(group, message):
    """Wake every listener of `group`: on this host at once, and on others through Redis.

    A message with a "seq" says the last line written, so a listener that has it skips the read.
    """
    global _publisher
    wake.bus.publish(group, message.get("seq"))
    if not enabled():
        return
    with _publisher_lock:
        if _publisher is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="channel-publisher", daemon=True).start()
            _publisher = loop, new_layer()
    loop, channel_layer = _publisher
    asyncio.run_coroutine_threadsafe(channel_layer.group_send(group, message), loop).add_done_callback(
        _report
    )


def _report(future):
    if not future.cancelled() and future.exception() is not None:
        log.warning("channel layer send failed: %s", future.exception())


class Subscription:
    """Call `callback(seq)` whenever `group` is published, until `close()`: local datagrams
    always (from the bus's thread: keep it short), Redis too where configured (from a
    listener task on `loop`, the running event loop's, or without one a thread of its own).
    """

    def __init__(self, group, callback, loop=None):
        self.local = wake.bus.subscribe(group, callback)
        self.listening = enabled()
        self.task = None
        if self.listening:
            listening = self._listen(group, callback)
            if loop is not None:
                self.task = loop.create_task(listening)
            else:
                threading.Thread(target=asyncio.run, args=(listening,), name=group, daemon=True).start()

    def close(self):
        self.listening = False
        wake.bus.unsubscribe(self.local)
        if self.task is not None:
            self.task.cancel()

    async def _listen(self, group, callback):
        """Until closed or cancelled, reconnecting after a Redis hiccup. redis-py can turn a cancel
        that lands mid-read into a TimeoutError, which would look like a quiet second or a hiccup
        and loop forever (a loop's teardown then hangs on this task): so the loops also stop on
        `listening` turning false and on the task's pending cancels (counted even if swallowed)."""
        layer = new_layer()
        try:
            while self.listening:
                try:
                    channel = await layer.new_channel()
                    await layer.group_add(group, channel)
                    try:
                        while self.listening:
                            try:
                                async with asyncio.timeout(1.0):
                                    message = await layer.receive(channel)
                            except TimeoutError:
                                if _cancelled():
                                    raise asyncio.CancelledError from None
                                continue  # look at `listening` again
                            callback(message.get("seq"))
                    finally:
                        await _bounded(layer.group_discard(group, channel))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # Redis away: polling carries on alone
                    if not self.listening or _cancelled():
                        return
                    log.warning("channel layer unavailable for %s, polling only: %s", group, exc)
                    await asyncio.sleep(1)
        finally:
            await _bounded(layer.close_pools())  # a private layer per listener: give its connections back


def _cancelled():
    """Whether the running task was asked to stop, even if its CancelledError got swallowed."""
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


async def _bounded(cleanup, seconds=2):
    """Clean up on the channel layer, but never let a sick Redis keep a listener alive."""
    try:
        await asyncio.wait_for(cleanup, seconds)
    except Exception as exc:
        log.warning("channel layer cleanup failed: %r", exc)
