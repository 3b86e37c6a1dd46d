"""Project-wide response rules."""

from django.utils.cache import add_never_cache_headers


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
