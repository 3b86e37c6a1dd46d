"""Who is on a WebSocket: an API key (`Authorization: Bearer`), or the Django session cookie,
read once, at the handshake.

Channels' AuthMiddlewareStack does the same in three layers, one of which wraps every
message sent afterwards to save a session that a stream never changes; a live log sends
thousands of messages a second to a crowd. Here the session is read in the thread pool,
not in Django's one thread-sensitive thread, and a crowd sharing one session (an owner's
tabs, a check opening many) shares one read.
"""

from functools import partial
from importlib import import_module

from channels.auth import get_user
from channels.db import DatabaseSyncToAsync
from channels.middleware import BaseMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie

from accounts import two_factor

from . import singleflight
from .client_ip import scope_ip


def _session_key(scope):
    cookies = "; ".join(
        value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"cookie"
    )
    return parse_cookie(cookies).get(settings.SESSION_COOKIE_NAME)


def _read_user(session_key):
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    # Channels' own lookup: the backend, and the password hash check that ends a
    # session once the password changed.
    user = get_user.func({"session": session})
    # A login still owing its two-factor code (or setup) is nobody yet, here as on pages.
    if not two_factor.session_may_pass(session, user):
        return AnonymousUser()
    return user


_user_of_session = DatabaseSyncToAsync(_read_user, thread_sensitive=False)


def _header(scope, name):
    return next((value.decode("latin-1") for key, value in scope.get("headers", ()) if key == name), "")


def _key_user(secret, ip):
    """The API key's user narrowed to the key (api/keys.py), or anonymous if the key is refused."""
    from api import ratelimit
    from api.keys import KeyRefused, user_for_key

    try:
        user = user_for_key(secret, ip)
        ratelimit.check(user.api_key)
    except (KeyRefused, ratelimit.RateLimited):
        return AnonymousUser()
    return user


_user_of_key = DatabaseSyncToAsync(_key_user, thread_sensitive=False)


class SessionAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope, receive, send):
        user = AnonymousUser()
        if secret := bearer(_header(scope, b"authorization")):
            # Scripts (the API's keys) follow logs and consoles on the same streams as pages.
            user = await _user_of_key(secret, scope_ip(scope))
        elif key := _session_key(scope):
            user = await singleflight.shared(("session-user", key), partial(_user_of_session, key))
        return await super().__call__({**scope, "user": user}, receive, send)


def bearer(header):
    """The key in an `Authorization: Bearer <key>` header value, or None."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None
