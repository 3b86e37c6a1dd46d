"""The gate in front of every page for a session that owes a second factor."""

from functools import partial

from channels.auth import AuthMiddleware, get_user
from channels.db import DatabaseSyncToAsync
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect

from l4d2site import singleflight

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


class WebSocketUser(AuthMiddleware):
    """Channels' AuthMiddleware (AuthMiddlewareStack is it under Channels' cookie and session
    middlewares, as l4d2site/asgi.py stacks them), with its one look-up changed:

    - run in the thread pool, not in Django's one thread-sensitive thread, where a crowd's
      handshakes queued one behind the other (bench/storm.py: +200 ms at p99 with it);
    - shared by the handshakes of one session that arrive together (one browser's tabs);
    - a login still owing its second factor is nobody, as on pages.

    A test fails when Channels' own `resolve_scope` changes (tests/test_job_logs.py).
    """

    async def resolve_scope(self, scope):
        session = scope["session"]
        if session.session_key is None:
            scope["user"]._wrapped = AnonymousUser()
            return
        read = partial(_session_user, session)
        scope["user"]._wrapped = await singleflight.shared(("session-user", session.session_key), read)


def _read_user(session):
    user = get_user.func({"session": session})  # Channels' own, run here
    return user if two_factor.session_may_pass(session, user) else AnonymousUser()


_session_user = DatabaseSyncToAsync(_read_user, thread_sensitive=False)
