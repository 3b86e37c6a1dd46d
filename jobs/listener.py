"""The worker's ear on the channel layer (Redis only): cancel requests and new jobs.

The database stays the source of truth and the worker keeps polling it; this
only shortens the wait, so the thread may die or Redis may vanish without any
job being lost.
"""

import asyncio
import logging
import threading

from .notify import WORKER_GROUP, new_layer

log = logging.getLogger(__name__)


class ChannelListener(threading.Thread):
    def __init__(self, nudge):
        super().__init__(name="channel-listener", daemon=True)
        self.nudge = nudge
        self.stopped = threading.Event()

    def run(self):
        asyncio.run(self._listen())

    def stop(self):
        self.stopped.set()

    async def _listen(self):
        layer = new_layer()
        while not self.stopped.is_set():
            try:
                channel = await layer.new_channel()
                await layer.group_add(WORKER_GROUP, channel)
                while not self.stopped.is_set():
                    try:
                        await asyncio.wait_for(layer.receive(channel), 1.0)
                    except TimeoutError:
                        continue
                    self.nudge.set()
            except Exception as exc:
                log.warning("channel layer unavailable, polling only: %s", exc)
                await asyncio.sleep(1)
