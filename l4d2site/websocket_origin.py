"""Same-origin checking for WebSocket handshakes.

A browser always sends Origin and always attaches the user's cookies, so a page
elsewhere that opens our WebSocket would read logs with the victim's session
(cross-site WebSocket hijacking). The Origin must therefore be this very site:
the same scheme, host and port as the handshake itself (or a
DJANGO_CSRF_TRUSTED_ORIGINS entry, as for forms). A page on another port of the
same host is another origin. Handshakes with no Origin at all come only from
non-browser clients (scripts, `websocat`, monitoring), which cannot borrow anyone's
cookies: they go on to the same login and owner checks as everyone else.
"""

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url):
    """(scheme, host, port) of an origin URL, or None if it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port


def _handshake_scheme(scope, headers):
    # Behind a TLS proxy the handshake reaches us as plain ws://; trust the proxy's
    # X-Forwarded-Proto exactly when Django does (SECURE_PROXY_SSL_HEADER).
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy and headers.get(b"x-forwarded-proto", b"").decode("latin-1") == proxy[1]:
        return "https"
    return "https" if scope.get("scheme") in ("wss", "https") else "http"


def same_origin(scope):
    headers = dict(scope.get("headers", []))
    origin = headers.get(b"origin")
    if origin is None:
        return True  # not a browser: the login and owner checks decide
    host = headers.get(b"host", b"").decode("latin-1")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return False
    allowed = {_origin(f"{_handshake_scheme(scope, headers)}://{host}")}
    allowed.update(_origin(trusted) for trusted in settings.CSRF_TRUSTED_ORIGINS)
    claimed = _origin(origin.decode("latin-1"))
    return claimed is not None and claimed in allowed


class SameOriginWebSocket:
    """ASGI middleware: refuse (HTTP 403) a browser handshake from any other origin."""

    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] == "websocket" and not same_origin(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.application(scope, receive, send)
