"""Project-wide response rules."""

from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers

from .client_ip import client_ip
from .websocket_auth import bearer


class NoStoreHtml:
    """`Cache-Control: no-store` on every HTML page.

    Every page here shows live state (a Running badge, a Cancel button): the
    browser's Back button must ask again rather than show a stale copy.
    Static files and streams set their own headers and are left alone.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.get("Content-Type", "").startswith("text/html") and not response.has_header(
            "Cache-Control"
        ):
            add_never_cache_headers(response)
        return response


class ApiKeyStreams:
    """A job's live log (SSE `/jobs/<id>/events`, `/jobs/<id>/log.txt`) for an API key in
    `Authorization: Bearer`: scripts follow logs on the very streams pages use (DESIGN.md §12).

    Only those GET streams: everything else a key does goes through /api/v1/. A refused key
    answers 401/403/429 with the reason, as the API does.
    """

    STREAMS = {"jobs:events", "jobs:log_txt"}

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        from api import ratelimit
        from api.keys import KeyRefused, user_for_key

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
