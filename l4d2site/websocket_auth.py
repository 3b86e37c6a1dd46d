"""Channels' session login for WebSockets, with the lookups run side by side.

Channels' `get_user` runs in the one thread Django keeps for thread-sensitive work,
so two hundred people opening a page at once would have their sessions read one
after another, each waiting for that thread. Reading a session needs no such
thread: here it runs in the pool, connections cleaned up around it as Channels does.
"""

from channels.auth import AuthMiddleware, get_user
from channels.db import DatabaseSyncToAsync
from channels.sessions import CookieMiddleware, SessionMiddleware

_get_user = DatabaseSyncToAsync(get_user.func, thread_sensitive=False)


class ConcurrentAuthMiddleware(AuthMiddleware):
    async def resolve_scope(self, scope):
        scope["user"]._wrapped = await _get_user(scope)


def AuthMiddlewareStack(inner):  # noqa: N802 (named like the Channels stack it stands for)
    return CookieMiddleware(SessionMiddleware(ConcurrentAuthMiddleware(inner)))
