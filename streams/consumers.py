"""The WebSocket consumer every live stream (job log, console, live state) builds on (DESIGN.md §4)."""

import asyncio
import json
from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.http import Http404

from . import revocation
from .events import End, parse_after, websocket_texts
from .layer import dumps
from .viewer import Viewer

CLOSE_UNAUTHORISED = 4403
CLOSE_BAD_REQUEST = 4400
CLOSE_TAIL_FAILED = 1011  # the browser reconnects and resumes
# Client messages are small ({"type": "ping"}, a console command): anything longer
# is refused before it is parsed.
MAX_MESSAGE_CHARS = 8192


class StreamConsumer(AsyncWebsocketConsumer):
    """Sends one viewer's events of one `Source`; subclasses say which and who may see it.

    No per-viewer channel: the stream's poller does the listening, so a viewer needs no
    Redis connection and keeps working while Redis is down.
    """

    channel_layer_alias = None
    accepted_messages = 'only {"type": "ping"} is accepted'
    pump = None
    source = None
    watched = None  # the key this stream is watched under for revocation (revocation.py)

    async def dispatch(self, message):
        """Channels' AsyncConsumer.dispatch minus its `aclose_old_connections()` hop through the
        one thread-sensitive thread, where a crowd's handshakes queue (bench/README.md, "Web
        tier"). Handlers here use pooled threads that clean up their own connections."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message):
        # Channels' own, without the same hop (and no groups to leave: the poller listens).
        await self.disconnect(message["code"])
        raise StopConsumer()

    async def get_source(self, user, **url_kwargs):
        """The source this user may follow; Http404 for outsiders, anonymous or missing;
        PermissionDenied for a member without the permission. Call `watch` for a source
        whose viewers may lose the right to it."""
        raise Http404

    def watch(self, key, check):
        """Close this stream (4403) once `await check()` says its viewer may no longer follow
        it; asked again whenever `revocation.changed(key)` is published."""
        self.watched = key
        revocation.watcher().add(key, self, check)

    async def revoke(self):
        await self.stop_pump()
        await self.close(code=CLOSE_UNAUTHORISED)

    async def handle_message(self, message):
        """A client message other than ping; return False if it is not understood."""
        return False

    async def connect(self):
        user = self.scope.get("user") or AnonymousUser()
        try:
            self.source = await self.get_source(user, **self.scope["url_route"]["kwargs"])
        except (Http404, PermissionDenied):
            # Accept first so the client sees our close code, not a bare HTTP 403.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        try:
            after = parse_after((query.get("after") or [""])[0])
        except ValueError as exc:
            await self.refuse(str(exc))
            return
        self.pump = asyncio.create_task(self.forward(Viewer(self.source, after)))

    async def forward(self, viewer):
        try:
            async for event in viewer:
                for text in websocket_texts(event):
                    await self.send(text_data=text)
                if isinstance(event, End):
                    await self.close(code=1000)
                    return
        except RuntimeError:
            # The poller failed (e.g. the database went away): the browser reconnects.
            await self.close(code=CLOSE_TAIL_FAILED)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        """Decode a client message; what cannot be read gets an error frame, the stream goes on."""
        if self.source is None:
            return  # refused at connect: nothing to talk about
        if text_data is None or len(text_data) > MAX_MESSAGE_CHARS:
            await self.error("Send JSON text messages of at most 8 KiB.")
            return
        try:
            message = json.loads(text_data)
        except RecursionError:
            # Nesting deep enough to exhaust the parser is an attack, not a typo.
            await self.refuse("Message nested too deeply.")
            return
        except ValueError:
            await self.error("Message is not valid JSON.")
            return
        await self.receive_json(message)

    async def receive_json(self, content):
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})
        elif not (isinstance(content, dict) and await self.handle_message(content)):
            await self.error(f"Unsupported message; {self.accepted_messages}.")

    async def send_json(self, content):
        await self.send(text_data=dumps(content))

    async def error(self, text):
        await self.send_json({"type": "error", "error": text})

    async def refuse(self, text):
        """An error frame, then close 4400: the pump stops, nothing more is sent."""
        await self.stop_pump()
        await self.error(text)
        await self.close(code=CLOSE_BAD_REQUEST)

    async def stop_pump(self):
        if self.pump:
            self.pump.cancel()
            self.pump = None

    async def disconnect(self, code):
        if self.watched is not None:
            revocation.watcher().discard(self.watched, self)
        await self.stop_pump()
