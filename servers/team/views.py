"""The Members tab of a server, its invite links, and the page an invite link opens."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from .. import permissions
from ..access import permissions_of, server_for_user
from ..models import Invite, ServerMember
from . import service
from .forms import AddMemberForm, PermissionsForm, grouped


def _refused(request, error, back):
    context = {"title": "Not changed", "message": error.reason, "back": back}
    return render(request, "error.html", context, status=error.status)


def _member_or_404(server, member_id):
    try:
        return server.members.select_related("user").get(pk=member_id)
    except ServerMember.DoesNotExist:
        raise Http404("No such member.") from None


@require_http_methods(["GET", "POST"])
@login_required
def members(request, server_id):
    """GET: the members, their roles and the open invites; POST: add someone by user name."""
    server = server_for_user(
        request.user, server_id, "members.update" if request.method == "POST" else "members.read"
    )
    form = AddMemberForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        username = form.cleaned_data["username"]
        try:
            service.add_member(request.user, server, username, form.names(), request=request)
        except service.TeamError as error:
            form.add_error(None, error.reason)
        else:
            messages.success(request, f"{username} is now a member of {server.name}.")
            return redirect("servers:members", server.id)
    held = permissions_of(request.user, server)
    context = {
        "server": server,
        "form": form,
        "members": server.members.select_related("user").order_by("user__username"),
        "invites": server.invites.usable().select_related("created_by"),
        "boxes": grouped(form["permissions"].value() or permissions.PRESETS["moderator"][1], held),
        "may_change": "members.update" in held,
        "membership": server.members.filter(user=request.user).first(),
    }
    return render(request, "servers/members.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def member(request, server_id, member_id):
    """GET: one member's permissions; POST: change them."""
    server = server_for_user(
        request.user, server_id, "members.update" if request.method == "POST" else "members.read"
    )
    member = _member_or_404(server, member_id)
    form = PermissionsForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            service.update_member(request.user, member, form.names(), request=request)
        except service.TeamError as error:
            return _refused(request, error, request.path)
        messages.success(request, f"Permissions of {member.user.get_username()} saved.")
        return redirect("servers:members", server.id)
    held = permissions_of(request.user, server)
    context = {
        "server": server,
        "member": member,
        "form": form,
        "boxes": grouped(member.permissions, held),
        "may_change": "members.update" in held,
    }
    return render(request, "servers/member.html", context)


@require_POST
@login_required
def member_remove(request, server_id, member_id):
    """Remove a member; a member removing themself leaves the server."""
    server = server_for_user(request.user, server_id)
    member = _member_or_404(server, member_id)
    back = reverse("servers:members", args=[server.id])
    try:
        service.remove_member(request.user, member, request=request)
    except service.TeamError as error:
        return _refused(request, error, back)
    if member.user_id == request.user.pk:
        messages.success(request, f"You left {server.name}.")
        return redirect("servers:list")
    messages.success(request, f"{member.user.get_username()} is no longer a member of {server.name}.")
    return redirect(back)


@require_POST
@login_required
@never_cache
def invite_create(request, server_id):
    """A one-use invite link with the chosen permissions, shown this once."""
    server = server_for_user(request.user, server_id, "members.update")
    form = PermissionsForm(request.POST)
    if not form.is_valid():
        message = "Choose a preset or tick the permissions the invite gives."
        return render(request, "error.html", {"title": "Bad request", "message": message}, status=400)
    try:
        invite, token = service.create_invite(request.user, server, form.names(), request=request)
    except service.TeamError as error:
        return _refused(request, error, reverse("servers:members", args=[server.id]))
    link = request.build_absolute_uri(reverse("servers:invite", args=[token]))
    context = {"server": server, "invite": invite, "link": link}
    return render(request, "servers/invite_created.html", context)


@require_POST
@login_required
def invite_revoke(request, server_id, invite_id):
    server = server_for_user(request.user, server_id, "members.update")
    try:
        invite = server.invites.get(pk=invite_id)
    except Invite.DoesNotExist:
        raise Http404("No such invite.") from None
    service.revoke_invite(request.user, invite, request=request)
    messages.success(request, "Invite link revoked: it opens nothing any more.")
    return redirect("servers:members", server.id)


@require_http_methods(["GET", "POST"])
@never_cache
def invite_accept(request, token):
    """What an invite link opens: join (logged in), or choose a user name and password first."""
    invite = Invite.objects.by_token(token)
    if invite is None:
        raise Http404("No such invite.")
    signup = None if request.user.is_authenticated else UserCreationForm(request.POST or None)
    if request.method == "POST" and invite.usable and (signup is None or signup.is_valid()):
        try:
            with transaction.atomic():  # no account is left behind by an invite that fails
                user = request.user if signup is None else signup.save()
                service.accept_invite(invite.pk, user, request=request)
        except service.TeamError as error:
            return _refused(request, error, reverse("servers:list"))
        if signup is not None:
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(request, f"Welcome to {invite.server.name}.")
        return redirect(invite.server)
    context = {
        "invite": invite,
        "signup": signup,
        "boxes": [
            (group, [perm for perm in perms if perm.name in invite.permissions])
            for group, perms in permissions.GROUPS
        ],
    }
    return render(request, "servers/invite.html", context, status=200 if invite.usable else 410)
