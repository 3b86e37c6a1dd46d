"""WebSockets of the live server views: one server's state and activity, and the user's server list."""

from functools import partial

from django.http import Http404

from activity.live import ActivitySource
from streams.consumers import StreamConsumer

from .access import amay, aserver_for_user
from .source import ServerListSource, ServerSource


class ServerStateConsumer(StreamConsumer):
    permission = "server.read"
    source_class = ServerSource

    async def get_source(self, user, server_id):
        server = await aserver_for_user(user, server_id, self.permission)
        # A member who loses the permission (or the membership) is closed at once.
        self.watch(server.id, partial(amay, user, server.id, self.permission))
        return self.source_class(server.id)


class ServerActivityConsumer(ServerStateConsumer):
    """The server's newest activity events (activity/live.py), for `activity.read`."""

    permission = "activity.read"
    source_class = ActivitySource


class ServerListConsumer(StreamConsumer):
    async def get_source(self, user):
        if not user.is_authenticated:
            raise Http404
        return ServerListSource(user)
