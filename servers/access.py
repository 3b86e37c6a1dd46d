"""Who may see a server: its owner, or staff. Outsiders get 404 (existence is not leaked)."""

from django.http import Http404

from .models import Server


def server_for_user(user, server_id):
    if not user.is_authenticated:
        raise Http404("No such server.")
    try:
        return Server.objects.visible_to(user).select_related("owner", "node").get(pk=server_id)
    except Server.DoesNotExist:
        raise Http404("No such server.") from None
