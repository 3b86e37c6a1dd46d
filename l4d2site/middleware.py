"""Project-wide response rules."""

from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from django.utils.deprecation import MiddlewareMixin

from .client_ip import client_ip


def no_store(get_response):
    """`Cache-Control: no-store` on every response Django itself makes.

    Pages show live state (a Running badge, a Cancel button), and the rest is one
    user's data (job logs as text, search results, windows of lines, live streams):
    neither the browser's Back button nor a shared cache may keep any of it. Only
    static files stay cacheable: WhiteNoise serves them from the middleware above
    this one, so their responses never pass through here.

    Listed right below WhiteNoise, so it also covers what the middleware under it
    answers by itself (CSRF failures, slash redirects, the lockout page).
    """

    def middleware(request):
        # Adds to what a view set (a stream's "no-cache" stays) and wins over any max-age.
        response = get_response(request)
        add_never_cache_headers(response)
        return response

    return middleware


def one_thread(get_response):
    """Sync only, and last: the whole middleware chain then runs in one thread per request.

    Under ASGI, Django fits each middleware that can run either way to what is inside it;
    with the view handler async, the ones listed after the last sync-only middleware ran on
    the event loop and sent each MiddlewareMixin hook to the thread and back on its own
    (sync_to_async twice per middleware). Sync views are the panel's pages, so one switch
    into the thread for the chain is what they need; an async view (the SSE stream) still
    runs on the loop, inside the chain.
    """

    def middleware(request):
        return get_response(request)

    return middleware


class ApiKeyStreams(MiddlewareMixin):
    """A job's live log (SSE `/jobs/<id>/events`, `/jobs/<id>/log.txt`) for an API key in
    `Authorization: Bearer`: scripts follow logs on the very streams pages use (DESIGN.md §12).

    Only those GET streams: everything else a key does goes through /api/v1/. A refused key
    answers 401/403/429 with the reason, as the API does.
    """

    STREAMS = {"jobs:events", "jobs:log_txt"}

    def process_view(self, request, view_func, view_args, view_kwargs):
        from api import ratelimit
        from api.keys import KeyRefused, user_for_key
        from api.websocket import bearer

        secret = bearer(request.headers.get("Authorization"))
        if secret is None or request.resolver_match.view_name not in self.STREAMS:
            return None
        try:
            user = user_for_key(secret, client_ip(request))
            ratelimit.check(user.api_key)
        except KeyRefused as refused:
            return JsonResponse({"detail": refused.detail}, status=refused.status)
        except ratelimit.RateLimited as limited:
            response = JsonResponse({"detail": str(limited)}, status=429)
            response["Retry-After"] = str(limited.retry_after)
            return response
        request.user = user

        async def auser():
            return user

        request.auser = auser
        return None
