"""Who may see a schedule or a webhook; outsiders get 404 like for servers and jobs."""

from django.http import Http404

from servers.access import key_allows, server_for_user, visible_or_404

from .models import Schedule, Webhook


def schedule_for_user(user, server_id, schedule_id, perm="schedules.read"):
    """The server (visible, else 404; holding `perm`, else 403) and its schedule `schedule_id` (else 404)."""
    server = server_for_user(user, server_id, perm)
    try:
        return server, server.schedules.get(pk=schedule_id)
    except Schedule.DoesNotExist:
        raise Http404("No such schedule.") from None


def webhook_for_user(user, webhook_id):
    """A webhook its owner (or staff) may see and change."""
    webhooks = Webhook.objects.select_related("server", "owner")
    webhook = visible_or_404(webhooks, user, webhook_id, "No such webhook.")
    if not key_allows(user, "webhooks.update", webhook.server_id):
        # An API key without the permission, or limited to other servers: not this one.
        raise Http404("No such webhook.")
    return webhook
