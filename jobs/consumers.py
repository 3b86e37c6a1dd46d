"""WebSocket transport of the log stream (DESIGN.md §4)."""

import asyncio
import json
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.contrib.auth.models import AnonymousUser
from django.http import Http404

from .access import job_for_user
from .sse import parse_after
from .tail import stream_job

CLOSE_UNAUTHORISED = 4403
CLOSE_BAD_REQUEST = 4400
# Characters of log text per "lines" frame. A job that printed a 10 MB line (stored
# as 4 KiB rows) must not become multi-megabyte frames: common clients refuse
# messages over 1 MiB (Python's `websockets` by default).
FRAME_CHARS = 200_000


def frames(rows):
    """Split rows (in seq order) into runs of at most FRAME_CHARS characters of text."""
    batch, size = [], 0
    for row in rows:
        if batch and size + len(row["line"]) > FRAME_CHARS:
            yield batch
            batch, size = [], 0
        batch.append(row)
        size += len(row["line"])
    if batch:
        yield batch


class JobLogConsumer(AsyncWebsocketConsumer):
    # No per-viewer channel: the job's tail does the listening, so a viewer needs no
    # Redis connection and keeps working while Redis is down.
    channel_layer_alias = None
    pump = None

    async def connect(self):
        user = self.scope.get("user") or AnonymousUser()
        try:
            job = await sync_to_async(job_for_user)(user, self.scope["url_route"]["kwargs"]["job_id"])
        except Http404:
            # Accept first so the client sees our close code, not a bare HTTP 403.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        await self.accept()
        try:
            after = parse_after((query.get("after") or [""])[0])
        except ValueError as exc:
            await self.send_json({"type": "error", "error": str(exc)})
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        self.pump = asyncio.create_task(self.forward(job.id, after))

    async def forward(self, job_id, after):
        try:
            async for event in stream_job(job_id, after):
                kind = event[0]
                if kind == "lines":
                    for batch in frames(event[1]):
                        await self.send_json({"type": "lines", "lines": batch})
                elif kind == "state":
                    await self.send_json({"type": "state", **event[1]})
                elif kind == "end":
                    await self.send_json({"type": "end"})
                    await self.close(code=1000)
                    return
        except RuntimeError:
            # The tail failed (e.g. the database went away): 1011 tells the browser to reconnect.
            await self.close(code=1011)

    async def receive(self, text_data=None, bytes_data=None):
        """The stream is server-to-client; a client may only ping. Anything else gets an error frame."""
        try:
            message = json.loads(text_data) if text_data is not None else None
        except ValueError:
            message = None
        if isinstance(message, dict) and message.get("type") == "ping":
            await self.send_json({"type": "pong"})
        else:
            await self.send_json(
                {"type": "error", "error": 'Unsupported message; only {"type": "ping"} is accepted.'}
            )

    async def disconnect(self, code):
        if self.pump:
            self.pump.cancel()

    async def send_json(self, data):
        await self.send(text_data=json.dumps(data, ensure_ascii=False, separators=(",", ":")))
