"""Project-wide response rules."""

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.utils.cache import add_never_cache_headers


class NoStore:
    """`Cache-Control: no-store` on every response Django itself makes.

    Pages show live state (a Running badge, a Cancel button), and the rest is one
    user's data (job logs as text, search results, windows of lines, live streams):
    neither the browser's Back button nor a shared cache may keep any of it. Only
    static files stay cacheable: WhiteNoise serves them from the middleware above
    this one, so their responses never pass through here.

    Listed right below WhiteNoise, so it also covers what the middleware under it
    answers by itself (CSRF failures, slash redirects, the lockout page). Sync and
    async alike, so an async view (the SSE stream) is not sent through Django's one
    thread-sensitive thread just for a header.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request):
        if iscoroutinefunction(self):
            return self._acall(request)
        return _no_store(self.get_response(request))

    async def _acall(self, request):
        return _no_store(await self.get_response(request))


def _no_store(response):
    # Adds to what a view set (a stream's "no-cache" stays) and wins over any max-age.
    add_never_cache_headers(response)
    return response
