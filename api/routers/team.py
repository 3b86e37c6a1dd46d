"""Members of a server (DESIGN.md §11, §12), by the rules of servers/team/service.py."""

from ninja import Router, Schema, Status

from servers import permissions
from servers.access import server_for_user
from servers.models import ServerMember
from servers.team import service

from ..paging import page
from ..representations import iso

router = Router(tags=["members"])


class MemberIn(Schema):
    username: str
    permissions: list[str] = []
    preset: str | None = None


class MemberChange(Schema):
    permissions: list[str] = []
    preset: str | None = None


def member_dict(member):
    return {
        "id": member.id,
        "user": member.user.get_username(),
        "permissions": permissions.clean(member.permissions),
        "role": member.role,
        "created_at": iso(member.created_at),
    }


def _names(body):
    if body.preset:
        if body.preset not in permissions.PRESETS:
            raise service.TeamError(400, f"Unknown preset; use one of: {', '.join(permissions.PRESETS)}.")
        return sorted(permissions.PRESETS[body.preset][1])
    unknown = sorted(set(body.permissions) - permissions.ALL)
    if unknown:
        raise service.TeamError(400, f"Unknown permission names: {', '.join(unknown)}.")
    return body.permissions


def _member(server, member_id):
    from django.http import Http404

    try:
        return server.members.select_related("user").get(pk=member_id)
    except ServerMember.DoesNotExist:
        raise Http404("No such member.") from None


@router.get("/servers/{int:server_id}/members", url_name="members")
def members(request, server_id: int, cursor: int | None = None, limit: int = 50):
    target = server_for_user(request.user, server_id, "members.read")
    return page(target.members.select_related("user"), cursor, limit, member_dict)


@router.post("/servers/{int:server_id}/members", response={201: dict}, url_name="member_add")
def member_add(request, server_id: int, body: MemberIn):
    target = server_for_user(request.user, server_id, "members.update")
    member = service.add_member(request.user, target, body.username, _names(body), request=request)
    return Status(201, member_dict(member))


@router.patch("/servers/{int:server_id}/members/{int:member_id}", url_name="member_update")
def member_update(request, server_id: int, member_id: int, body: MemberChange):
    target = server_for_user(request.user, server_id, "members.update")
    member = service.update_member(request.user, _member(target, member_id), _names(body), request=request)
    return member_dict(member)


@router.delete(
    "/servers/{int:server_id}/members/{int:member_id}", response={204: None}, url_name="member_remove"
)
def member_remove(request, server_id: int, member_id: int):
    """Remove a member (members.update), or leave: a member may always remove themself."""
    target = server_for_user(request.user, server_id)
    service.remove_member(request.user, _member(target, member_id), request=request)
    return Status(204, None)
