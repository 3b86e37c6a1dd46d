"""WebSockets of the live server views: one server's state, and the user's server list."""

from django.http import Http404

from streams.consumers import StreamConsumer

from .access import aserver_for_user
from .source import ServerListSource, ServerSource


class ServerStateConsumer(StreamConsumer):
    async def get_source(self, user, server_id):
        server = await aserver_for_user(user, server_id)
        return ServerSource(server.id)


class ServerListConsumer(StreamConsumer):
    async def get_source(self, user):
        if not user.is_authenticated:
            raise Http404
        return ServerListSource(user)
