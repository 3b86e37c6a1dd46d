"""The client's address: the one place it is worked out (login throttling, the activity
log, the API).

Behind reverse proxies REMOTE_ADDR is the nearest proxy. Each proxy appends the address it
got the request from to X-Forwarded-For (nginx: `$proxy_add_x_forwarded_for`), so only the
last PROXY_COUNT entries were written by proxies we run; whatever stands left of them came
in with the request and is the client's to choose. The client's address is therefore the
entry PROXY_COUNT places from the right, never the leftmost. (Daphne's `--proxy-headers`
takes the leftmost, which is why deploy/l4d2-web@.service does not use it.)
"""

import ipaddress
import logging
from types import SimpleNamespace

from django.conf import settings

log = logging.getLogger(__name__)
_warned_unset_proxy_count = False


def client_ip(request):
    """The address of whoever sent `request`, as text, or None if it is unknown."""
    remote = _address(request.META.get("REMOTE_ADDR"))
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [hop for hop in forwarded if hop]
    count = settings.PROXY_COUNT
    if count <= 0:
        if forwarded:
            _warn_unset_proxy_count(remote)
        return remote
    if not forwarded:
        return remote  # came to Daphne without passing a proxy (a local health check)
    # Fewer entries than proxies: each was written by one of ours, the leftmost by the
    # proxy farthest out, so that one is the closest we have to the client.
    hop = forwarded[-count] if len(forwarded) >= count else forwarded[0]
    return _address(hop) or remote


def websocket_request(scope):
    """What `client_ip` and `activity.record` read of a request, from a WebSocket's ASGI scope
    (a console command typed over the socket is logged from its sender's address too)."""
    forwarded = [
        value.decode("latin-1") for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"
    ]
    client = scope.get("client") or (None,)
    meta = {"REMOTE_ADDR": client[0] or "", "HTTP_X_FORWARDED_FOR": ", ".join(forwarded)}
    return SimpleNamespace(META=meta, user=scope.get("user"))


def _address(text):
    try:
        return str(ipaddress.ip_address((text or "").strip()))
    except ValueError:
        return None


def _warn_unset_proxy_count(remote):
    # Forwarded requests with no proxy count: every client looks like the proxy, so one
    # client's failed logins would pause logins for everyone. Said once per process.
    global _warned_unset_proxy_count
    if not _warned_unset_proxy_count and remote and ipaddress.ip_address(remote).is_loopback:
        _warned_unset_proxy_count = True
        log.warning(
            "Requests arrive through a proxy (X-Forwarded-For) but L4D2_PROXY_COUNT is 0: "
            "every client has the proxy's address %s. Behind one nginx set L4D2_PROXY_COUNT=1.",
            remote,
        )


def scope_ip(scope):
    """The same, for a WebSocket handshake (its ASGI scope)."""
    forwarded = [value for name, value in scope.get("headers", ()) if name == b"x-forwarded-for"]
    meta = {
        "REMOTE_ADDR": (scope.get("client") or ("",))[0],
        "HTTP_X_FORWARDED_FOR": b",".join(forwarded).decode("latin-1"),
    }
    return client_ip(SimpleNamespace(META=meta))
