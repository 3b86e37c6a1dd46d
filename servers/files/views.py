"""The file manager's pages (DESIGN.md §13): browse, edit, download, upload, rename, new folder, delete.

Every page asks the worker of the server's node through the relay; whatever it refuses
(a path outside the server's folder, a file changed since it was opened, one too
large) comes back as a FileError and is shown with its status, losing nothing typed.
"""

from urllib.parse import quote, urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from hostctl.files import SERVER_CFG

from ..access import permissions_of, server_for_user
from ..l4d2_facade import file_max_bytes
from . import actions, relay
from .errors import BadPath, Conflict, FileError, TooLarge
from .listing import crumbs, parent_of, rows_html

TEXT_EXTENSIONS = {"cfg", "txt", "ini", "json", "vdf"}
EDITOR_MAX_BYTES = 1024 * 1024  # what the editor opens (a form post carries it back: under Django's 2.5 MB)


def is_text(path):
    return path.rsplit(".", 1)[-1].lower() in TEXT_EXTENSIONS if "." in path else False


def browse_url(server, path=""):
    url = reverse("servers:files", args=[server.id])
    return f"{url}?{urlencode({'path': path})}" if path else url


@require_GET
@login_required
def browse(request, server_id):
    server = server_for_user(request.user, server_id, "files.read")
    path = request.GET.get("path", "")
    perms = permissions_of(request.user, server)
    context = {"server": server, "path": path, "perms": perms}
    try:
        listing = relay.list_dir(server, path)
    except FileError as error:
        context.update(error=error.detail, crumbs=crumbs(path))
        return render(request, "servers/files.html", context, status=error.status)
    context.update(
        path=listing["path"],
        crumbs=crumbs(listing["path"]),
        parent=parent_of(listing["path"]),
        count=len(listing["entries"]),
        rows=rows_html(
            listing["path"], listing["entries"], editable=is_text, selectable="files.update" in perms
        ),
        max_bytes=file_max_bytes(),
    )
    return render(request, "servers/files.html", context)


@require_http_methods(["GET", "POST"])
@login_required
def edit(request, server_id):
    """GET: the file in the editor (read-only for server.cfg); POST: save it."""
    if request.method == "POST":
        return _save(request, server_for_user(request.user, server_id, "files.update"))
    server = server_for_user(request.user, server_id, "files.read")
    path = request.GET.get("path", "")
    try:
        content = actions.read(server, request.user, path)
    except FileError as error:
        return _refused(request, server, parent_of(path), error)
    context = _editor_context(request, server, content.path, sha256=content.sha256, size=content.size)
    if not is_text(content.path):
        context["unfit"] = "Only text files (cfg, txt, ini, json, vdf) open in the editor."
    elif content.size > EDITOR_MAX_BYTES:
        context["unfit"] = f"The editor opens files of at most {EDITOR_MAX_BYTES // 1024} KiB."
    else:
        try:
            text = content.data.decode("utf-8")
        except UnicodeDecodeError:
            context["unfit"] = "This file is not UTF-8 text."
        else:
            context.update(text=text, newline="crlf" if "\r\n" in text else "lf")
    return render(request, "servers/file_edit.html", context)


def _save(request, server):
    path = request.POST.get("path", "")
    text = request.POST.get("content", "")
    newline = request.POST.get("newline", "lf")
    # A form sends a textarea's lines with CRLF: back to what the file had.
    text = text.replace("\r\n", "\n")
    if newline == "crlf":
        text = text.replace("\n", "\r\n")
    expected = None if request.POST.get("overwrite") else request.POST.get("sha256") or None
    try:
        written = actions.write(
            server, request.user, path, text.encode("utf-8"), expected_sha256=expected, request=request
        )
    except FileError as error:
        context = _editor_context(request, server, path, sha256=request.POST.get("sha256", ""))
        context.update(text=text, newline=newline, error=error.detail, conflict=isinstance(error, Conflict))
        return render(request, "servers/file_edit.html", context, status=error.status)
    messages.success(request, f"Saved {written['path']} ({written['size']} bytes).")
    editor = reverse("servers:file_edit", args=[server.id])
    return redirect(f"{editor}?{urlencode({'path': written['path']})}")


def _editor_context(request, server, path, **extra):
    return {
        "server": server,
        "path": path,
        "crumbs": crumbs(path),
        "folder_url": browse_url(server, parent_of(path)),
        "read_only": path == SERVER_CFG,
        "perms": permissions_of(request.user, server),
        **extra,
    }


@require_GET
@login_required
def download(request, server_id):
    server = server_for_user(request.user, server_id, "files.read")
    path = request.GET.get("path", "")
    try:
        content = actions.read(server, request.user, path)
    except FileError as error:
        return _refused(request, server, parent_of(path), error)
    response = HttpResponse(content.data, content_type="application/octet-stream")
    name = content.path.rsplit("/", 1)[-1]
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name, safe='')}"
    response["ETag"] = f'"{content.sha256}"'
    return response


@require_POST
@login_required
def upload(request, server_id):
    server = server_for_user(request.user, server_id, "files.update")
    folder = request.POST.get("path", "")
    files = request.FILES.getlist("files")
    limit = file_max_bytes()
    try:
        if not files:
            raise BadPath("Choose a file to upload.")
        for upload in files:  # every size checked before anything is written
            if upload.size > limit:
                most = limit // 1024 // 1024
                raise TooLarge(f"{upload.name} is larger than {most} MiB, the panel's limit.")
        for upload in files:
            target = f"{folder}/{upload.name}" if folder else upload.name
            actions.write(server, request.user, target, upload.read(), uploaded=True, request=request)
    except FileError as error:
        return _refused(request, server, folder, error)
    messages.success(request, f"Uploaded {', '.join(upload.name for upload in files)}.")
    return redirect(browse_url(server, folder))


@require_POST
@login_required
def mkdir(request, server_id):
    server = server_for_user(request.user, server_id, "files.update")
    folder = request.POST.get("path", "")
    name = request.POST.get("name", "").strip()
    try:
        if not name or "/" in name:
            raise BadPath("A folder’s name is one name, without “/”.")
        made = actions.mkdir(server, request.user, f"{folder}/{name}" if folder else name, request=request)
    except FileError as error:
        return _refused(request, server, folder, error)
    messages.success(request, f"Created the folder {made['path']}.")
    return redirect(browse_url(server, folder))


@require_POST
@login_required
def rename(request, server_id):
    """Without `to`: the form asking for the new name; with it: the rename."""
    server = server_for_user(request.user, server_id, "files.update")
    folder = request.POST.get("path", "")
    selected = request.POST.getlist("paths")
    context = {"server": server, "path": folder, "crumbs": crumbs(folder), "back": browse_url(server, folder)}
    if len(selected) != 1:
        context["error"] = "Select one file or folder to rename."
        return render(request, "servers/file_rename.html", context, status=400)
    source = selected[0]
    target = request.POST.get("to")
    context.update(source=source, to=target if target is not None else source)
    if target is None:
        return render(request, "servers/file_rename.html", context)
    try:
        renamed = actions.rename(server, request.user, source, target, request=request)
    except FileError as error:
        context["error"] = error.detail
        return render(request, "servers/file_rename.html", context, status=error.status)
    messages.success(request, f"Renamed {source} to {renamed['path']}.")
    return redirect(browse_url(server, folder))


@require_POST
@login_required
def delete(request, server_id):
    """Without `confirmed`: the list of what would go, to confirm; with it: the deletion."""
    server = server_for_user(request.user, server_id, "files.update")
    folder = request.POST.get("path", "")
    selected = request.POST.getlist("paths")
    context = {
        "server": server,
        "path": folder,
        "crumbs": crumbs(folder),
        "selected": selected,
        "back": browse_url(server, folder),
    }
    if not selected:
        context["error"] = "Select the files and folders to delete."
        return render(request, "servers/file_delete.html", context, status=400)
    if not request.POST.get("confirmed"):
        return render(request, "servers/file_delete.html", context)
    try:
        deleted = actions.delete(server, request.user, selected, request=request)
    except FileError as error:
        context["error"] = error.detail
        return render(request, "servers/file_delete.html", context, status=error.status)
    messages.success(request, f"Deleted {', '.join(deleted['deleted'])}.")
    return redirect(browse_url(server, folder))


def _refused(request, server, folder, error):
    context = {"title": "Files", "message": error.detail, "back": browse_url(server, folder)}
    return render(request, "error.html", context, status=error.status)
