"""At most L4D2_MAX_SOCKETS_PER_USER open live connections per user, in this web process.

Every WebSocket (job logs, consoles, server state, the server list, any path) and
every endless HTTP stream (`/jobs/<id>/events`, `log.txt?follow=1`) holds a file
descriptor of the process that serves it until it ends. The descriptor limit is per
process, so one person opening a thousand tabs, or a script opening sockets in a
loop, would use up the descriptors everyone else's pages need. The count is kept
per process, in memory, for exactly that reason: it is exact, costs no I/O, and
dies with the process, so a Daphne killed by SIGKILL can never leave anyone locked
out. With several web processes (one per core) the cap holds per user *per
process*: a user may hold up to that many in each, and no process can be starved
by one user.

Staff count too: the cap protects the process, not the data. Connections of
anonymous visitors are not counted (every stream refuses them at once).

Over the cap, a WebSocket is accepted and closed at once with CLOSE_TOO_MANY (4429)
after an error frame saying why (Daphne does not pass on a close reason), and an
HTTP stream is answered 429: the browser's views say so and try again only slowly,
instead of reconnecting at once (static/js/logview.js, server.js).
"""

import json
import threading
import weakref
from collections import Counter

from django.conf import settings

CLOSE_TOO_MANY = 4429
RETRY_SECONDS = 30  # what the 429 answer's Retry-After says


def too_many_text():
    return (
        f"Too many live views open: at most {settings.L4D2_MAX_SOCKETS_PER_USER} at once per user. "
        "Close some tabs or consoles and reload."
    )


class Budget:
    """How many live connections each user holds here; thread-safe (sync views take slots too)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.held = Counter()

    def take(self, user_id):
        """Count one more connection of `user_id`; False (and nothing counted) when over the cap."""
        cap = settings.L4D2_MAX_SOCKETS_PER_USER
        with self.lock:
            if cap and self.held[user_id] >= cap:
                return False
            self.held[user_id] += 1
            return True

    def give_back(self, user_id):
        with self.lock:
            self.held[user_id] -= 1
            if self.held[user_id] <= 0:
                del self.held[user_id]


budget = Budget()


def _counted(user):
    return user is not None and user.is_authenticated


class SocketBudget:
    """ASGI middleware for the WebSocket router (under the session middleware: it needs the user).

    The slot is held for as long as the connection's application runs, which is the
    connection's life: Daphne ends the application when the socket closes (cancelling
    it if it lingers), and `finally` gives the slot back whichever way it ends.
    """

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        user = scope.get("user")
        if scope["type"] != "websocket" or not _counted(user):
            return await self.application(scope, receive, send)
        if not budget.take(user.pk):
            return await refuse_too_many(scope, receive, send)
        try:
            return await self.application(scope, receive, send)
        finally:
            budget.give_back(user.pk)


async def refuse_too_many(scope, receive, send):
    """The answer over the cap: accepted (so the client sees the code), told why, closed.

    Plain ASGI rather than a consumer: a script opening sockets in a loop must cost
    as little as possible (no thread hop, nothing beyond the session read before it).
    """
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps({"type": "error", "error": too_many_text()})})
    await send({"type": "websocket.close", "code": CLOSE_TOO_MANY, "reason": "Too many live views open"})


class HeldStream:
    """An HTTP stream's content that holds one of its user's slots until it is over.

    Given back when the stream ends, when Django closes the response (it does, also
    when the client goes away mid-stream), or, should neither happen (a response that
    was never sent), when the object is garbage collected.
    """

    def __init__(self, content, user_id):
        self.content = aiter(content)
        self._give_back = weakref.finalize(self, budget.give_back, user_id)

    def __aiter__(self):
        return self

    async def __anext__(self):
        try:
            return await anext(self.content)
        except StopAsyncIteration:
            self.close()
            raise

    def close(self):
        self._give_back()  # a finalizer runs at most once, however often it is called


def hold_stream(user, content):
    """`content` as a HeldStream counted against `user`; None when the user is over the cap."""
    if not budget.take(user.pk):
        return None
    return HeldStream(content, user.pk)
