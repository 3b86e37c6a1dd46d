"""The console page (GET) and sending a command to it (POST), DESIGN.md §3."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from ..access import server_for_user
from ..models import ActualState, ConsoleLine
from .commands import Refused, submit

VIEW_LINES = 1000  # lines the page replays on opening; older ones stay in the database
MAX_LINES = 5000  # lines the page keeps in the DOM while it follows


@require_http_methods(["GET", "POST"])
@login_required
def console(request, server_id):
    """GET: the live console page; POST command=<line>: send a command (DESIGN.md §3)."""
    if request.method == "POST":
        return _command(request, server_for_user(request.user, server_id, "console.command"))
    return _page(request, server_for_user(request.user, server_id, "console.read"))


def _page(request, server):
    after = max(0, ConsoleLine.objects.last_seq(server.id) - VIEW_LINES)
    context = {
        "server": server,
        "after": after,
        "max_lines": MAX_LINES,
        "running": server.actual_state == ActualState.RUNNING,
    }
    return render(request, "servers/console.html", context)


def _command(request, server):
    try:
        submit(server, request.user, request.POST.get("command", ""), request=request)
    except Refused as refused:
        if request.htmx:
            context = {"error": refused.reason}
            return render(request, "servers/_command_result.html", context, status=refused.status)
        context = {"title": "Command not sent", "message": refused.reason, "back": request.path}
        return render(request, "error.html", context, status=refused.status)
    if request.htmx:
        return render(request, "servers/_command_result.html", {"sent": True})
    messages.info(request, "Command sent: its output appears below.")
    return redirect("servers:console", server.id)
