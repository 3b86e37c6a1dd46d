"""Cross-process nudges, best effort: local datagrams (streams.wake) and the Redis channel layer.

The database is the source of truth: every reader also polls it, so a lost or
impossible nudge (no Redis, Redis down, a full socket) only costs latency, never a
line. `publish` wakes listeners on this host at once through the local bus and,
where Redis is configured, on every host through the channel layer. Redis sends
are fire-and-forget on one background event loop per process, so a hot path (a
log flush) never waits on Redis.
"""

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
    # The in-memory layer cannot reach other processes, so without Redis there is
    # nobody to nudge.
    return bool(settings.REDIS_URL)


def new_layer():
    """A private channel layer instance: Redis layers are bound to the loop that uses them."""
    return channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)


class _Publisher:
    def __init__(self):
        self._lock = threading.Lock()
        self._loop = None
        self._layer = None

    def _ensure_loop(self):
        with self._lock:
            if self._loop is None:
                self._loop = asyncio.new_event_loop()
                self._layer = new_layer()
                threading.Thread(target=self._loop.run_forever, name="channel-publisher", daemon=True).start()
        return self._loop

    def send(self, group, message):
        loop = self._ensure_loop()
        future = asyncio.run_coroutine_threadsafe(self._layer.group_send(group, message), loop)
        future.add_done_callback(self._report)

    @staticmethod
    def _report(future):
        if not future.cancelled() and future.exception() is not None:
            log.warning("channel layer send failed: %s", future.exception())


_publisher = _Publisher()


def publish(group, message):
    """Wake every listener of `group`: on this host at once, and on others through Redis.

    A message with a "seq" says the last line written, so a listener that has it skips the read.
    """
    wake.bus.publish(group, message.get("seq"))
    if enabled():
        _publisher.send(group, message)


async def listen(group, on_message, keep_going):
    """Call `on_message(message)` for every message sent to `group` while `keep_going()`.

    Reconnects after a Redis hiccup. Stops on `keep_going()` turning false, not on
    cancellation alone: redis-py can turn a cancel that lands mid-read into a
    TimeoutError, which would otherwise look like a hiccup and loop forever.
    """
    layer = new_layer()
    try:
        while keep_going():
            try:
                channel = await layer.new_channel()
                await layer.group_add(group, channel)
                try:
                    while keep_going():
                        try:
                            message = await asyncio.wait_for(layer.receive(channel), 1.0)
                        except TimeoutError:
                            continue  # look at keep_going() again
                        on_message(message)
                finally:
                    await _bounded(layer.group_discard(group, channel))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: polling carries on alone
                if not keep_going():
                    return
                log.warning("channel layer unavailable for %s, polling only: %s", group, exc)
                await asyncio.sleep(1)
    finally:
        await _bounded(layer.close_pools())  # a private layer per listener: give its connections back


class Subscription:
    """Call `callback(seq)` (from another thread: keep it short) whenever `group` is published.

    For threads (worker loops); the tail subscribes from its event loop instead.
    Local datagrams always, Redis too where configured; `close()` ends both.
    """

    def __init__(self, group, callback):
        self.local = wake.bus.subscribe(group, callback)
        self.listening = enabled()
        if self.listening:

            def run():
                asyncio.run(
                    listen(group, lambda message: callback(message.get("seq")), lambda: self.listening)
                )

            threading.Thread(target=run, name=f"listen-{group}", daemon=True).start()

    def close(self):
        self.listening = False
        wake.bus.unsubscribe(self.local)


async def _bounded(cleanup, seconds=2):
    """Clean up on the channel layer, but never let a sick Redis keep a listener alive."""
    try:
        await asyncio.wait_for(cleanup, seconds)
    except Exception as exc:
        log.warning("channel layer cleanup failed: %r", exc)
