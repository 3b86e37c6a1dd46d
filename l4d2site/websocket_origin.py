"""Origin checking for the WebSocket endpoint.

Channels' AllowedHostsOriginValidator refuses a handshake from a foreign page, which
is what stops cross-site WebSocket hijacking: a browser always sends Origin and
always attaches the victim's cookies. It also refuses handshakes with no Origin at
all, which only non-browser clients (scripts, `websocat`, monitoring) send; those
cannot borrow anyone's cookies, so they are let through to the same login and
owner checks as everyone else.
"""

from channels.security.websocket import OriginValidator
from django.conf import settings


class BrowserOriginValidator(OriginValidator):
    def valid_origin(self, parsed_origin):
        return parsed_origin is None or super().valid_origin(parsed_origin)


def AllowedHostsBrowserOriginValidator(application):  # noqa: N802 (named like Channels' factory)
    return BrowserOriginValidator(application, settings.ALLOWED_HOSTS)
