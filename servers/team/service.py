"""The rules of team access, in one place (DESIGN.md §11): pages, the admin and the API call these.

- Only someone holding `members.update` changes the team (owner and staff hold everything).
- A member grants, changes and takes away only permissions they hold themselves: whatever
  else the other member holds stays as it was, and a member who holds more than they do
  cannot be removed by them.
- The owner is never a member and cannot be removed; anyone may leave a server they are a
  member of.
Every change is an activity event; the open streams of the server check again at once
(a revoked console closes) whatever changed the membership (signals.py).
"""

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

import activity

from .. import permissions
from ..access import permissions_of, require
from ..models import Invite, ServerMember


class TeamError(Exception):
    """A change the rules refuse; `status` is the HTTP status that says why."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _within_reach(actor, server, before, after):
    """TeamError(403) unless every permission changed between `before` and `after` is the actor's."""
    changed = (set(before) ^ set(after)) - permissions.IMPLIED
    beyond = sorted(changed - permissions_of(actor, server))
    if beyond:
        names = ", ".join(permissions.PERMISSIONS[name].label.lower() for name in beyond)
        raise TeamError(403, f"You may only grant or take away permissions you hold yourself (not: {names}).")


def _changed(server, action, request, **detail):
    # (Open streams check again through the membership's signals: servers/team/signals.py.)
    activity.record(action, request=request, server=server, detail=detail)


def add_member(actor, server, username, names, *, request=None):
    require(actor, server, "members.update")
    user = get_user_model().objects.filter(username=username).first()
    if user is None:
        raise TeamError(400, f"Nobody is called “{username}” here. Send them an invite link instead.")
    if user.pk == server.owner_id:
        raise TeamError(400, f"{username} owns this server already.")
    names = permissions.clean(names)
    _within_reach(actor, server, permissions.IMPLIED, names)
    try:
        with transaction.atomic():
            member = ServerMember.objects.create(
                server=server, user=user, permissions=names, created_by=actor
            )
    except IntegrityError:
        raise TeamError(409, f"{username} is a member already: change their permissions below.") from None
    _changed(server, "member.added", request, user=username, permissions=names)
    return member


def update_member(actor, member, names, *, request=None):
    server = member.server
    require(actor, server, "members.update")
    after = permissions.clean(names)
    held = permissions_of(actor, server)
    # What the actor does not hold is not theirs to change: it stays as it was.
    kept = set(member.permissions) - held
    after = permissions.clean((set(after) & held) | kept)
    _within_reach(actor, server, member.permissions, after)
    before = permissions.clean(member.permissions)
    if after == before:
        return member
    member.permissions = after
    member.save(update_fields=["permissions"])
    _changed(
        server,
        "member.updated",
        request,
        user=member.user.get_username(),
        added=sorted(set(after) - set(before)),
        removed=sorted(set(before) - set(after)),
    )
    return member


def remove_member(actor, member, *, request=None):
    """Remove `member` (or, when the actor is that member, leave)."""
    server = member.server
    if member.user_id == actor.pk:
        member.delete()
        _changed(server, "member.left", request, user=actor.get_username())
        return
    require(actor, server, "members.update")
    beyond = set(permissions.clean(member.permissions)) - permissions_of(actor, server)
    if beyond:
        raise TeamError(
            403, f"{member.user.get_username()} holds permissions you do not: you may not remove them."
        )
    member.delete()
    _changed(server, "member.removed", request, user=member.user.get_username())


def create_invite(actor, server, names, *, request=None):
    """A one-use link for 7 days; returns (invite, token). The token is shown once."""
    require(actor, server, "members.update")
    names = permissions.clean(names)
    _within_reach(actor, server, permissions.IMPLIED, names)
    invite, token = Invite.create(server, names, actor)
    activity.record(
        "invite.created", request=request, server=server, detail={"invite": invite.pk, "permissions": names}
    )
    return invite, token


def revoke_invite(actor, invite, *, request=None):
    require(actor, invite.server, "members.update")
    if Invite.objects.filter(pk=invite.pk, used_at__isnull=True).delete()[0]:
        activity.record("invite.revoked", request=request, server=invite.server, detail={"invite": invite.pk})


def accept_invite(invite_id, user, *, request=None):
    """Make `user` a member through the invite, once; TeamError(410) if it was used or has expired."""
    with transaction.atomic():
        invite = Invite.objects.select_for_update().select_related("server").filter(pk=invite_id).first()
        if invite is None or not invite.usable:
            raise TeamError(410, "This invite link was used already or has expired. Ask for a new one.")
        server = invite.server
        if user.pk == server.owner_id:
            raise TeamError(400, "You own this server already.")
        if ServerMember.objects.filter(server=server, user=user).exists():
            raise TeamError(409, "You are a member of this server already.")
        member = ServerMember.objects.create(
            server=server, user=user, permissions=invite.permissions, created_by=invite.created_by
        )
        invite.used_at, invite.used_by = timezone.now(), user
        invite.save(update_fields=["used_at", "used_by"])
    _changed(server, "invite.accepted", request, user=user.get_username(), invite=invite.pk)
    return member
