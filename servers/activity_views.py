"""A server's activity log (DESIGN.md §11): who did what to it, newest first, live."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from activity import words
from activity.models import Event
from l4d2site.pagination import keyset_page

from .access import server_for_user


def event_filters(params):
    """{"person": user name, "action": "job." (a group) or "job.enqueued"}; empty: not filtered."""
    person = params.get("person", "").strip()[:150]
    action = params.get("action", "").strip()[:64]
    return {"person": person, "action": action}


def filtered(events, chosen):
    if chosen["person"]:
        events = events.filter(actor__username__iexact=chosen["person"])
    action = chosen["action"]
    if action.endswith("."):
        events = events.filter(action__startswith=action)
    elif action:
        events = events.filter(action=action)
    return events


@require_GET
@login_required
def server_activity(request, server_id):
    server = server_for_user(request.user, server_id, "activity.read")
    chosen = event_filters(request.GET)
    events = Event.objects.filter(server=server).select_related("actor")
    page = keyset_page(filtered(events, chosen), request.GET)
    context = {
        "server": server,
        "page": page,
        "events": page.rows,
        "chosen": chosen,
        "filtered": any(chosen.values()),
        "actions": words.choices(),
        # Suggestions for the person box: whoever is on the team now.
        "people": [server.owner.get_username(), *server.members.values_list("user__username", flat=True)],
        # Only the newest page follows: older pages stay as they are.
        "live": page.newer is None,
        # Live rows older than this belong on the next page, not on this one.
        "floor": page.older or 0,
    }
    return render(request, "servers/activity.html", context)
