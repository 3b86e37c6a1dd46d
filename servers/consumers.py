"""WebSockets of the live server views: one server's state, and the user's server list."""

from functools import partial

from django.http import Http404

from streams.consumers import StreamConsumer

from .access import amay, aserver_for_user
from .source import ServerListSource, ServerSource


class ServerStateConsumer(StreamConsumer):
    permission = "server.read"

    async def get_source(self, user, server_id):
        server = await aserver_for_user(user, server_id, self.permission)
        self.watch(server.id, partial(amay, user, server.id, self.permission))
        return ServerSource(server.id)


class ServerListConsumer(StreamConsumer):
    async def get_source(self, user):
        if not user.is_authenticated:
            raise Http404
        return ServerListSource(user)
