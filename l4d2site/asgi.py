"""ASGI entry point: Django for HTTP, Channels for the log WebSockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "l4d2site.settings")
# Django must be set up before anything imports models (the consumers do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.sessions import CookieMiddleware, SessionMiddleware  # noqa: E402
from django.core.signals import request_finished  # noqa: E402

from accounts.middleware import WebSocketUser  # noqa: E402
from api.websocket import ApiKeyUser  # noqa: E402
from l4d2site.db import release_connections  # noqa: E402
from l4d2site.routing import websocket_urlpatterns  # noqa: E402
from l4d2site.socket_budget import SocketBudget  # noqa: E402
from l4d2site.sync_threads import WarmThreads  # noqa: E402
from l4d2site.websocket_origin import SameOriginWebSocket  # noqa: E402

# The user: the session's, through Channels' AuthMiddlewareStack (cookie, session, auth)
# with its look-up off the one thread-sensitive thread (accounts.middleware.WebSocketUser),
# once it owes no second factor; or an API key's. Every route counts against its budget.
websockets = CookieMiddleware(
    SessionMiddleware(WebSocketUser(ApiKeyUser(SocketBudget(URLRouter(websocket_urlpatterns)))))
)
# Pages run their sync code on kept threads that keep their SQLite connection (sync_threads.py).
application = ProtocolTypeRouter(
    {"http": WarmThreads(django_asgi_app), "websocket": SameOriginWebSocket(websockets)}
)

request_finished.connect(release_connections, dispatch_uid="l4d2site.release_connections")
