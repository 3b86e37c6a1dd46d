"""The addons page of a server: SourceMod and MetaMod, plugins, admins (and the Workshop's section).

Every view asks `servers.access` first: addons.read to look, addons.update to change.
Plugins and admins are read from the game host through the file relay when the page is
drawn; if the host cannot be reached the page says so and offers nothing to change.
"""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from hostctl import smadmins
from jobs.models import JobKind
from servers.access import permissions_of, server_for_user
from servers.files.errors import Conflict, FileError

from . import service

MAX_ADMIN_ROWS = 500


def _refusals(view):
    """AddonError and the relay's FileError as the error page, with their status and a way back."""

    @wraps(view)
    def wrapped(request, server_id, *args, **kwargs):
        try:
            return view(request, server_id, *args, **kwargs)
        except (service.AddonError, FileError) as exc:
            back = f"/servers/{server_id}/addons"
            context = {"title": "Not done", "message": exc.detail, "back": back, "code": exc.status}
            return render(request, "error.html", context, status=exc.status)

    return wrapped


@require_GET
@login_required
def addons_page(request, server_id):
    server = server_for_user(request.user, server_id, "addons.read")
    return _page(request, server)


def _page(request, server, *, admin_rows=None, admin_error="", status=200):
    perms = permissions_of(request.user, server)
    context = {
        "server": server,
        "perms": perms,
        "may_update": "addons.update" in perms,
        "mods": service.mod_states(server),
        "sourcemod_job": server.jobs.filter(kind=JobKind.SOURCEMOD).order_by("-id").first(),
        "flag_words": smadmins.WORDS,
        "admin_error": admin_error,
        "plugin_max_kb": settings.L4D2_PLUGIN_MAX_KB,
    }
    try:
        context["plugins"] = service.plugins(server)
        admins = service.read_admins(server)
    except FileError as exc:
        context["host_error"] = exc.detail
    else:
        context["admins"] = admins
        if admin_rows is None:
            admin_rows = [service.admin_json(admin) for admin in admins.file.admins]
        context["admin_rows"] = [*admin_rows, {"steam_id": "", "flags": [], "immunity": 0, "name": ""}]
        context["hand_written"] = [(line, smadmins.describe(line.text)) for line in admins.file.hand_written]
    return render(request, "addons/addons.html", context, status=status)


@require_POST
@login_required
@_refusals
def sourcemod_action(request, server_id):
    server = server_for_user(request.user, server_id, "addons.update")
    action = request.POST.get("action", "")
    job = service.enqueue_sourcemod(server, request.user, action, request=request)
    what = f"SourceMod {action}"
    if job.duplicate:
        messages.info(request, f"{what} was already queued as job #{job.id}.")
    else:
        messages.success(request, f"{what} queued as job #{job.id}.")
    return redirect(job)


@require_POST
@login_required
@_refusals
def plugin_toggle(request, server_id, name):
    server = server_for_user(request.user, server_id, "addons.update")
    enabled = request.POST.get("enabled") == "1"
    note = service.set_plugin_enabled(server, request.user, name, enabled, request=request)
    messages.success(request, f"{name} {'enabled' if enabled else 'disabled'}. {note}")
    return redirect("addons:page", server.id)


@require_POST
@login_required
@_refusals
def plugin_upload(request, server_id):
    server = server_for_user(request.user, server_id, "addons.update")
    upload = request.FILES.get("plugin")
    if upload is None:
        raise service.AddonError(400, "Choose a .smx file to upload.")
    limit = settings.L4D2_PLUGIN_MAX_KB * 1024
    data = upload.read(limit + 1)
    note = service.upload_plugin(server, request.user, upload.name, data, request=request)
    messages.success(request, f"{upload.name} uploaded and enabled. {note}")
    return redirect("addons:page", server.id)


@require_POST
@login_required
@_refusals
def plugin_delete(request, server_id, name):
    server = server_for_user(request.user, server_id, "addons.update")
    note = service.delete_plugin(server, request.user, name, request=request)
    messages.success(request, f"{name} deleted. {note}")
    return redirect("addons:page", server.id)


@require_POST
@login_required
def admins_save(request, server_id):
    """The admins table as typed: saved into the panel's block, or shown again with the reason."""
    server = server_for_user(request.user, server_id, "addons.update")
    rows = _typed_rows(request.POST)
    try:
        admins = service.parse_admins(rows)
        note = service.save_admins(
            server, request.user, admins, expected_sha256=request.POST.get("sha256") or None, request=request
        )
    except Conflict:
        error = (
            "admins_simple.ini changed on the server since this page was opened: nothing was saved. "
            "The file as it is now is shown below with your rows kept; save again to write them."
        )
        return _page(request, server, admin_rows=rows, admin_error=error, status=409)
    except (service.AddonError, FileError) as exc:
        return _page(request, server, admin_rows=rows, admin_error=exc.detail, status=exc.status)
    count = f"{len(admins)} admin{'' if len(admins) == 1 else 's'}"
    messages.success(request, f"{count} saved in admins_simple.ini. {note}")
    return redirect("addons:page", server.id)


def _typed_rows(post):
    """The table's rows (steam_id_<n>, name_<n>, immunity_<n>, flags_<n>), blank and removed ones left out."""
    rows = []
    count = post.get("rows", "")
    for index in range(min(int(count) if count.isdigit() else 0, MAX_ADMIN_ROWS)):
        steam_id = post.get(f"steam_id_{index}", "").strip()
        if not steam_id or post.get(f"remove_{index}"):
            continue
        rows.append(
            {
                "steam_id": steam_id,
                "name": post.get(f"name_{index}", ""),
                "immunity": post.get(f"immunity_{index}", "0") or 0,
                "flags": post.getlist(f"flags_{index}"),
            }
        )
    return rows
