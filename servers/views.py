from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http.request import split_domain_port
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST

import activity

from . import applied, charts
from .access import permissions_of, server_for_user
from .live import FIELDS as LIVE_FIELDS
from .live import list_row, notify_server, state_frame
from .models import Server, ServerMember

# The parts of the server page htmx re-fetches in place, by the element they replace.
PARTS = {
    "server-actions": "servers/_actions_live.html",
    "recent-jobs": "servers/_recent_jobs.html",
    "server-charts": "servers/_charts.html",
    "auto-restart": "servers/_auto_restart.html",
}


@require_GET
@login_required
def server_list(request):
    # Only what a row shows (servers/list.html): building 20 whole servers was a sixth of the page.
    shown = ("name", "port", "owner__username", "node__last_heartbeat", "installed_build", "latest_build")
    shown += ("update_policy", *LIVE_FIELDS)
    servers = Server.objects.visible_to(request.user).select_related("owner", "node").only(*shown)
    # The role of a shared server in words ("Moderator"), for the servers the user does not own.
    roles = {m.server_id: m.role for m in ServerMember.objects.filter(user=request.user)}
    # The live columns as the list's stream sends them (static/js/server.js), from the same rows.
    rows = [(server, list_row(server), roles.get(server.id)) for server in servers]
    return render(request, "servers/list.html", {"servers": rows})


@require_GET
@login_required
def server_detail(request, server_id):
    server = server_for_user(request.user, server_id)
    part = PARTS.get(request.htmx.target) if request.htmx else None
    context = {"server": server, "perms": permissions_of(request.user, server)}
    context["pending"] = applied.pending(server)
    if part is None or part == PARTS["server-charts"]:
        history = charts.history(server)
        context.update(charts=history, charts_empty=all(c.empty for c in history))
        context["sample_seconds"] = settings.SAMPLE_SECONDS
    if part:
        return render(request, part, context)
    live = state_frame(server.id, loaded=server)
    context.update(live=live, address=connect_address(server, request))
    # The page's first paint; from then on static/js/server.js keeps it live from the same frame.
    context.update(since=_when(live["since"]), checked=_when(live["checked_at"]))
    context["players"] = [{**player, "joined": _when(player.get("joined"))} for player in live["players"]]
    return render(request, "servers/detail.html", context)


@require_POST
@login_required
def server_auto_restart(request, server_id):
    """Turn automatic restarts after a crash on (`auto_restart=on`) or off (`off`)."""
    server = server_for_user(request.user, server_id, "settings.update")
    choice = request.POST.get("auto_restart")
    if choice not in ("on", "off"):
        message = "Send auto_restart=on or auto_restart=off."
        return render(request, "error.html", {"title": "Bad request", "message": message}, status=400)
    changed = server.auto_restart != (choice == "on")
    server.auto_restart = choice == "on"
    with transaction.atomic():
        Server.objects.filter(pk=server.pk).update(
            auto_restart=server.auto_restart, updated_at=timezone.now()
        )
        if changed:
            detail = {"auto_restart": choice}
            activity.record("settings.auto_restart", request=request, server=server, detail=detail)
    notify_server(server.pk)
    if request.htmx:
        context = {"server": server, "perms": permissions_of(request.user, server)}
        return render(request, PARTS["auto-restart"], context)
    state = "on" if server.auto_restart else "off"
    messages.success(request, f"Automatic restarts of {server.name} are {state}.")
    return redirect(server)


def connect_address(server, request):
    """host:port players connect to: the node's public address, L4D2_PUBLIC_ADDRESS, or this page's host."""
    host = (server.node.address if server.node else "") or settings.PUBLIC_ADDRESS
    if not host:
        host, _ = split_domain_port(request.get_host())  # get_host() checked it against ALLOWED_HOSTS
    return f"{host}:{server.port}"


def _when(iso):
    return parse_datetime(iso) if isinstance(iso, str) else None
