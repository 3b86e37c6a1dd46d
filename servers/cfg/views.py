"""The settings page (server.cfg) and the RCON password's reveal and rotation."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

import activity

from .. import applied, l4d2_facade
from ..access import permissions_of, server_for_user
from ..console.commands import Refused, submit_rcon_password
from ..models import Server, new_rcon_password
from .forms import ServerSettingsForm

LIVE = "live"


@require_http_methods(["GET", "POST"])
@login_required
def server_settings(request, server_id):
    server = server_for_user(
        request.user, server_id, "settings.update" if request.method == "POST" else "settings.read"
    )
    # The file as the saved settings write it: a rejected form changes nothing, so
    # this is computed before the form touches the instance.
    cfg, cfg_error = _cfg_preview(server)
    form = ServerSettingsForm(request.POST or None, instance=server)
    if request.method == "POST":
        if form.is_valid():
            server = form.save_and_record(request)
            messages.success(request, saved_message(server))
            return redirect("servers:settings", server.id)
    status = 400 if form.errors else 200
    context = {"server": server, "form": form, "cfg": cfg, "cfg_error": cfg_error}
    context.update(live_map=applied.live_map(server), live_map_kept=applied.live_map_wins(server))
    context["perms"] = permissions_of(request.user, server)
    return render(request, "servers/settings.html", context, status=status)


def saved_message(server):
    if applied.pending(server):
        return "Settings saved. The running server gets them at its next start (Apply now on its page)."
    return "Settings saved: the server gets them at its next start."


@require_POST
@login_required
def keep_map(request, server_id):
    """The map setting becomes the map the server is on (changed in the game): it stays after restarts."""
    server = server_for_user(request.user, server_id, "settings.update")
    live = applied.live_map(server)
    if not live:
        message = "The server is on its configured map (or on none): there is no other map to keep."
        back = reverse("servers:settings", args=[server.id])
        context = {"title": "Nothing to keep", "message": message, "back": back}
        return render(request, "error.html", context, status=409)
    applied.keep_live_map(server, request=request)
    messages.success(request, f"{live} is now the map it starts on.")
    return redirect("servers:settings", server.id)


def _cfg_preview(server):
    try:
        return l4d2_facade.server_cfg(server, mask_rcon=True), None
    except l4d2_facade.CfgError as exc:
        return None, str(exc)


@require_POST
@login_required
@never_cache
def rcon_reveal(request, server_id):
    """The password, only on a click (a POST): it is never part of a page until asked for."""
    server = server_for_user(request.user, server_id, "rcon.reveal")
    activity.record("rcon.revealed", request=request, server=server)
    context = {"server": server, "password": server.rcon_password}
    if request.htmx:
        return render(request, "servers/_rcon_password.html", context)
    return render(request, "servers/rcon.html", context)


@require_POST
@login_required
def rcon_rotate(request, server_id):
    server = server_for_user(request.user, server_id, "rcon.reveal")
    live = request.POST.get("apply") == LIVE
    with transaction.atomic():
        Server.objects.filter(pk=server.pk).update(
            rcon_password=new_rcon_password(), updated_at=timezone.now()
        )
        activity.record("rcon.rotated", request=request, server=server, detail={"sent_to_server": live})
    if not live:
        messages.success(request, "New RCON password saved: the server uses it from its next start.")
        return redirect(server)
    try:
        submit_rcon_password(server, request.user, request=request)
    except Refused as refused:
        messages.warning(request, f"New RCON password saved; it applies at the next start ({refused.reason})")
    else:
        messages.success(request, "New RCON password saved and sent to the running server.")
    return redirect(server)
