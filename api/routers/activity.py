"""A server's activity log, and your own (DESIGN.md §11)."""

from ninja import Router

from activity.models import Event
from servers.access import server_for_user

from ..paging import page
from ..representations import iso

router = Router(tags=["activity"])


def event_dict(event):
    return {
        "id": event.id,
        "at": iso(event.at),
        "actor": event.actor.get_username() if event.actor_id else None,
        "via": event.via,
        "ip": event.ip,
        "server": event.server_id,
        "action": event.action,
        "detail": event.detail,
    }


@router.get("/servers/{int:server_id}/activity", url_name="server_activity")
def server_activity(request, server_id: int, cursor: int | None = None, limit: int = 50, action: str = ""):
    """Who did what on the server, newest first; `action` filters by prefix (`job.`, `member.added`)."""
    target = server_for_user(request.user, server_id, "activity.read")
    events = Event.objects.filter(server=target, action__startswith=action).select_related("actor")
    return page(events, cursor, limit, event_dict)


@router.get("/account/activity", url_name="account_activity")
def account_activity(request, cursor: int | None = None, limit: int = 50):
    """What you did (and the logins to your account), newest first."""
    events = Event.objects.filter(actor=request.user).select_related("actor")
    return page(events, cursor, limit, event_dict)
