"""Who may see a server: its owner, or staff. Outsiders get 404 (existence is not leaked)."""

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
