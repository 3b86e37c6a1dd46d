"""The gate in front of every page for a session that owes a second factor."""

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect

from . import two_factor


def two_factor_gate(get_response):
    """Send a session past the password but not the code to the code step, and one that
    must set up two-factor to the two-factor page, from wherever it asks to go.

    After OTPMiddleware (`is_verified()`); a verified session, or one that owes nothing,
    passes untouched. The admin is one page among others here: a staff member with a
    device reaches /admin/ only with the code.
    """

    def middleware(request):
        step = two_factor.owed_step(request.session, request.user)
        if step and not request.user.is_verified() and request.path_info not in two_factor.open_paths(step):
            # Back to the page afterwards, if it is one (a POST's URL is an action).
            next_url = request.get_full_path() if request.method == "GET" else ""
            return redirect(two_factor.step_url(step, next_url))
        return get_response(request)

    return middleware


class TwoFactorWebSocketGate(BaseMiddleware):
    """Under Channels' AuthMiddlewareStack: a session still owing its code (or its setup)
    is nobody yet on a WebSocket, as on pages."""

    async def __call__(self, scope, receive, send):
        user = scope["user"]
        if user.is_authenticated and not await _may_pass(scope["session"], user):
            scope = {**scope, "user": AnonymousUser()}
        return await super().__call__(scope, receive, send)


@database_sync_to_async
def _may_pass(session, user):
    return two_factor.session_may_pass(session, user)
