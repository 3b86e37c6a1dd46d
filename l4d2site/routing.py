"""WebSocket URL routes of every app (l4d2site/asgi.py serves them)."""

from channels.generic.websocket import AsyncWebsocketConsumer
from django.urls import re_path

from jobs.urls import websocket_urlpatterns as job_websockets
from servers.urls import websocket_urlpatterns as server_websockets


class NoSuchStream(AsyncWebsocketConsumer):
    """Any other path: refuse the handshake (HTTP 403) instead of a routing traceback."""

    channel_layer_alias = None

    async def connect(self):
        await self.close()


websocket_urlpatterns = [*job_websockets, *server_websockets, re_path(r"", NoSuchStream.as_asgi())]
