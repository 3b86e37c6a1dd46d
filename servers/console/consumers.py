"""WebSocket of a server's console (DESIGN.md §3): its lines and state, and commands sent back."""

from channels.db import database_sync_to_async
from django.http import Http404

from l4d2site.client_ip import websocket_request

from ..access import Forbidden, forget, server_for_user
from ..consumers import ServerStateConsumer
from .commands import Refused, submit
from .source import ConsoleSource


class ConsoleConsumer(ServerStateConsumer):
    accepted_messages = 'accepted: {"type": "ping"} and {"type": "command", "command": "..."}'
    permission = "console.read"
    source_class = ConsoleSource

    async def handle_message(self, message):
        if message.get("type") != "command":
            return False
        try:
            command = await database_sync_to_async(self._submit)(message.get("command"))
        except Refused as refused:
            # A refused command is news for this viewer only; the stream goes on.
            await self.send_json({"type": "error", "error": refused.reason, "status": refused.status})
        else:
            await self.send_json({"type": "command", "id": command.id, "outcome": command.outcome})
        return True

    def _submit(self, text):
        # Fetched again for every command: who may send is decided now, not at connect.
        user = self.scope["user"]
        forget(user)
        try:
            server = server_for_user(user, self.source.owner_id, "console.command")
        except Http404:
            raise Refused(404, "No such server.") from None
        except Forbidden as forbidden:
            raise Refused(403, str(forbidden)) from None
        return submit(server, user, text, request=websocket_request(self.scope))
