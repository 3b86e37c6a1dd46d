"""A server's backups page, a backup's contents, and the actions on a backup (DESIGN.md §13)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

import activity
from hostctl.backups import DEFAULT_IGNORE
from jobs.models.job import QueueFull
from servers.access import permissions_of, server_for_user

from . import service
from .access import backup_for_user
from .forms import BackupSettingsForm
from .models import Backup


def _refused(request, server, refused, back=None):
    context = {"title": "Not possible", "message": refused.reason, "back": back or _list_url(server)}
    return render(request, "error.html", context, status=refused.status)


def _list_url(server):
    return reverse("backups:list", args=[server.id])


@require_http_methods(["GET", "POST"])
@login_required
def backup_list(request, server_id):
    """GET: the server's backups; POST: back up now."""
    if request.method == "POST":
        server = server_for_user(request.user, server_id, "backups.create")
        try:
            backup, job = service.start_backup(server, request.user, request=request)
        except service.Refused as refused:
            return _refused(request, server, refused)
        except QueueFull as full:
            return render(
                request, "error.html", {"title": "Too many jobs waiting", "message": str(full)}, status=429
            )
        messages.success(request, f"Backup {backup.name} queued as job #{job.id}.")
        return redirect(job)
    server = server_for_user(request.user, server_id, "backups.read")
    return _page(request, server, BackupSettingsForm(instance=server))


def _page(request, server, form, status=200):
    Backup.objects.filter(server=server).settle()
    backups = Backup.objects.filter(server=server).select_related("job").defer("index")
    context = {
        "server": server,
        "backups": backups,
        "form": form,
        "perms": permissions_of(request.user, server),
        "default_ignore": DEFAULT_IGNORE,
        "count": sum(1 for b in backups if b.state != "failed"),
    }
    return render(request, "backups/list.html", context, status=status)


@require_POST
@login_required
def backup_settings(request, server_id):
    """The server's backup limit and its own ignore patterns."""
    server = server_for_user(request.user, server_id, "settings.update")
    form = BackupSettingsForm(request.POST, instance=server)
    if not form.is_valid():
        return _page(request, server, form, status=400)
    if form.has_changed():
        form.save()
        activity.record("backup.settings", server=server, request=request, detail=activity.changes(form))
        messages.success(request, "Backup settings saved.")
    return redirect("backups:list", server.id)


@require_GET
@login_required
def backup_detail(request, server_id, backup_id):
    """A backup's contents (from its stored index, not the game host), one folder at a time."""
    backup = backup_for_user(request.user, backup_id, "backups.read", server_id=server_id)
    folder = request.GET.get("path", "").strip("/")
    members = backup.members()
    prefix = f"{folder}/" if folder else ""
    entries = [
        {"path": path, "name": path[len(prefix) :], "type": kind, "size": size}
        for path, kind, size in members
        if path.startswith(prefix) and "/" not in path[len(prefix) :] and path != folder
    ]
    entries.sort(key=lambda e: (e["type"] != "dir", e["name"].lower()))
    crumbs, walked = [], []
    for part in folder.split("/") if folder else []:
        walked.append(part)
        crumbs.append({"name": part, "path": "/".join(walked)})
    context = {
        "server": backup.server,
        "backup": backup,
        "folder": folder,
        "crumbs": crumbs,
        "entries": entries,
        "perms": permissions_of(request.user, backup.server),
    }
    return render(request, "backups/detail.html", context)


@require_POST
@login_required
def backup_restore(request, server_id, backup_id):
    """Restore all of it (truncate=on: remove what it does not have) or the `paths` chosen."""
    backup = backup_for_user(request.user, backup_id, "backups.restore", server_id=server_id)
    paths = request.POST.getlist("paths") or None
    try:
        job = service.start_restore(
            backup, request.user, truncate=request.POST.get("truncate") == "on", paths=paths, request=request
        )
    except service.Refused as refused:
        return _refused(request, backup.server, refused, back=backup.get_absolute_url())
    except QueueFull as full:
        return render(
            request, "error.html", {"title": "Too many jobs waiting", "message": str(full)}, status=429
        )
    what = ", ".join(paths) if paths else f"backup {backup.name}"
    messages.success(request, f"Restore of {what} queued as job #{job.id}.")
    return redirect(job)


@require_POST
@login_required
def backup_lock(request, server_id, backup_id):
    backup = backup_for_user(request.user, backup_id, "backups.delete", server_id=server_id)
    locked = request.POST.get("locked") == "on"
    service.set_locked(backup, locked, request.user, request=request)
    messages.success(request, f"Backup {backup.name} {'locked' if locked else 'unlocked'}.")
    return redirect("backups:list", backup.server_id)


@require_POST
@login_required
def backup_delete(request, server_id, backup_id):
    backup = backup_for_user(request.user, backup_id, "backups.delete", server_id=server_id)
    try:
        service.delete(backup, request.user, request=request)
    except service.Refused as refused:
        return _refused(request, backup.server, refused)
    messages.success(request, f"Backup {backup.name} deleted.")
    return redirect("backups:list", backup.server_id)


@require_GET
@login_required
def backup_download(request, server_id, backup_id):
    backup = backup_for_user(request.user, backup_id, "backups.download", server_id=server_id)
    try:
        return service.download(backup, request.user, request=request)
    except service.Refused as refused:
        return _refused(request, backup.server, refused)
