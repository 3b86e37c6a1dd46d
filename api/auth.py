"""How the API knows who calls: an API key in `Authorization: Bearer`, or the browser's session
(with its CSRF token on changes, as for forms)."""

from ninja.security import HttpBearer, SessionAuth

from l4d2site.client_ip import client_ip

from . import ratelimit
from .errors import ApiError
from .keys import KeyRefused, user_for_key


class KeyAuth(HttpBearer):
    def authenticate(self, request, token):
        try:
            user = user_for_key(token, client_ip(request))
        except KeyRefused as refused:
            raise ApiError(refused.status, refused.detail) from None
        ratelimit.check(user.api_key)
        request.user = user
        request.api_key = user.api_key
        return user.api_key


class Session(SessionAuth):
    """The logged-in browser (CSRF checked on changes by ninja's cookie auth)."""


AUTH = [KeyAuth(), Session()]
