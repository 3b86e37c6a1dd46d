"""WebSocket URL routes of every app (l4d2site/asgi.py serves them)."""

from jobs.urls import websocket_urlpatterns as job_websockets

websocket_urlpatterns = [*job_websockets]
