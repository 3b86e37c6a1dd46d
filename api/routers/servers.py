"""Servers, their jobs, console and settings (DESIGN.md §12)."""

from ninja import Body, Router, Schema, Status

from jobs.access import KIND_PERMISSION
from jobs.models import LIFECYCLE_KINDS, Job
from jobs.rules import refusal
from servers.access import require, server_for_user
from servers.cfg.forms import ServerSettingsForm
from servers.console.commands import submit
from servers.models import ConsoleLine, Server

from .. import representations as show
from ..errors import ApiError
from ..forms import apply_form
from ..paging import page

router = Router(tags=["servers"])

LINES_MAX = 5000


class JobIn(Schema):
    kind: str


class CommandIn(Schema):
    command: str


@router.get("/servers", url_name="servers")
def servers(request, cursor: int | None = None, limit: int = 50):
    """The servers you own, share (with your permissions on each) or, as staff, all."""
    visible = Server.objects.visible_to(request.user).select_related("owner")
    return page(visible, cursor, limit, lambda s: show.server(request, s))


@router.get("/servers/{int:server_id}", url_name="server")
def server(request, server_id: int):
    return show.server(request, server_for_user(request.user, server_id))


@router.get("/servers/{int:server_id}/jobs", url_name="server_jobs")
def server_jobs(request, server_id: int, cursor: int | None = None, limit: int = 50):
    target = server_for_user(request.user, server_id)
    jobs = target.jobs.select_related("requested_by")
    return page(jobs, cursor, limit, lambda j: show.job(request, j))


@router.post("/servers/{int:server_id}/jobs", response={201: dict}, url_name="enqueue")
def enqueue(request, server_id: int, body: JobIn):
    """Queue a job (`install`, `update`, `start`, `stop`, `restart`); the same kind already
    queued is answered instead (201 either way, `duplicate` says which)."""
    target = server_for_user(request.user, server_id)
    if body.kind not in LIFECYCLE_KINDS:
        raise ApiError(400, f"“{body.kind}” is not a job kind. Use one of: {', '.join(LIFECYCLE_KINDS)}.")
    require(request.user, target, KIND_PERMISSION[body.kind])
    if why := refusal(body.kind, target):
        raise ApiError(409, why)
    job = Job.enqueue(target, body.kind, request.user, request=request)
    return Status(201, {**show.job(request, job), "duplicate": job.duplicate})


@router.post("/servers/{int:server_id}/console", response={202: dict}, url_name="console_command")
def console_command(request, server_id: int, body: CommandIn):
    """Send a console command; its output arrives in the console's lines."""
    target = server_for_user(request.user, server_id, "console.command")
    command = submit(target, request.user, body.command, request=request)
    return Status(202, {"id": command.id, "outcome": command.outcome})


@router.get("/servers/{int:server_id}/console", url_name="console_lines")
def console_lines(request, server_id: int, after: int = 0, limit: int = LINES_MAX):
    """Console lines after `after` (the §4 line objects), at most `limit`."""
    target = server_for_user(request.user, server_id, "console.read")
    return {"lines": ConsoleLine.objects.rows_after(target.id, max(0, after), max(1, min(LINES_MAX, limit)))}


@router.get("/servers/{int:server_id}/settings", url_name="settings")
def settings_of(request, server_id: int):
    target = server_for_user(request.user, server_id, "settings.read")
    return {name: getattr(target, name) for name in ServerSettingsForm().fields}


@router.patch("/servers/{int:server_id}/settings", url_name="settings_update")
def settings_update(request, server_id: int, changes: Body[dict]):
    """Change some settings, checked as the settings page checks them; 400 with each field's errors."""
    target = server_for_user(request.user, server_id, "settings.update")
    apply_form(ServerSettingsForm, target, changes).save_and_record(request)
    return {name: getattr(target, name) for name in ServerSettingsForm().fields}
