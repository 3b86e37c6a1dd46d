"""API keys on the live streams' WebSockets: scripts follow logs and consoles on the very
streams pages use (DESIGN.md §12), with `Authorization: Bearer <key>`."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

from l4d2site.client_ip import scope_ip


def bearer(header):
    """The key in an `Authorization: Bearer <key>` header value, or None."""
    scheme, _, value = (header or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@database_sync_to_async
def key_user(secret, ip):
    """The API key's user narrowed to the key (api/keys.py), or anonymous if the key is refused."""
    from . import ratelimit
    from .keys import KeyRefused, user_for_key

    try:
        user = user_for_key(secret, ip)
        ratelimit.check(user.api_key)
    except (KeyRefused, ratelimit.RateLimited):
        return AnonymousUser()
    return user


class ApiKeyUser(BaseMiddleware):
    """With a Bearer key, the key's user is on the WebSocket (in place of the session's)."""

    async def __call__(self, scope, receive, send):
        header = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"authorization"), "")
        if secret := bearer(header):
            scope = {**scope, "user": await key_user(secret, scope_ip(scope))}
        return await super().__call__(scope, receive, send)
