"""Who may see a server: its owner, or staff. Outsiders get 404 (existence is not leaked)."""

from channels.db import DatabaseSyncToAsync
from django.http import Http404

from .models import Server


def visible_or_404(queryset, user, pk, message):
    """`queryset.visible_to(user).get(pk=pk)`; Http404(message) for anonymous users and outsiders."""
    if not user.is_authenticated:
        raise Http404(message)
    try:
        return queryset.visible_to(user).get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404(message) from None


def server_for_user(user, server_id):
    return visible_or_404(Server.objects.select_related("owner", "node"), user, server_id, "No such server.")


# For WebSocket handshakes: in the thread pool, so a crowd opening a server's pages checks
# in parallel instead of queueing for Django's one thread-sensitive thread.
aserver_for_user = DatabaseSyncToAsync(server_for_user, thread_sensitive=False)
