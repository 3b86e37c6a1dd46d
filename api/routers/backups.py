"""Backups of a server: list, make, restore, lock, delete, download (DESIGN.md §13)."""

from ninja import Router, Schema, Status

from backups import service
from backups.access import backup_for_user
from backups.models import Backup
from servers.access import server_for_user

from .. import representations as show
from ..paging import page

router = Router(tags=["backups"])


class RestoreIn(Schema):
    truncate: bool = False
    paths: list[str] | None = None


def backup_dict(request, backup):
    return {
        "id": backup.id,
        "server": backup.server_id,
        "name": backup.name,
        "state": backup.state,
        "size": backup.size,
        "sha256": backup.sha256 or None,
        "locked": backup.locked,
        "files": backup.files,
        "skipped": backup.skipped,
        "created_at": show.iso(backup.created_at),
        "finished_at": show.iso(backup.finished_at),
        "job": backup.job_id,
    }


@router.get("/servers/{int:server_id}/backups", url_name="backups")
def backups(request, server_id: int, cursor: int | None = None, limit: int = 50):
    target = server_for_user(request.user, server_id, "backups.read")
    rows = Backup.objects.filter(server=target).defer("index")
    return page(rows, cursor, limit, lambda b: backup_dict(request, b))


@router.post("/servers/{int:server_id}/backups", response={202: dict}, url_name="backup_create")
def create(request, server_id: int):
    """Start a backup: 202 with the backup (being made) and its job; 409 at the server's limit."""
    target = server_for_user(request.user, server_id, "backups.create")
    backup, job = service.start_backup(target, request.user, request=request)
    return Status(202, {"backup": backup_dict(request, backup), "job": show.job(request, job)})


@router.post("/backups/{int:backup_id}/restore", response={202: dict}, url_name="backup_restore")
def restore(request, backup_id: int, body: RestoreIn):
    """Restore the backup (`paths`: only those files or folders); `truncate` removes the files it
    does not have, within its scope. 202 with the job."""
    target = backup_for_user(request.user, backup_id, "backups.restore")
    job = service.start_restore(
        target, request.user, truncate=body.truncate, paths=body.paths, request=request
    )
    return Status(202, {"job": show.job(request, job)})


@router.post("/backups/{int:backup_id}/lock", url_name="backup_lock")
def lock(request, backup_id: int):
    target = backup_for_user(request.user, backup_id, "backups.delete")
    return backup_dict(request, service.set_locked(target, True, request.user, request=request))


@router.post("/backups/{int:backup_id}/unlock", url_name="backup_unlock")
def unlock(request, backup_id: int):
    target = backup_for_user(request.user, backup_id, "backups.delete")
    return backup_dict(request, service.set_locked(target, False, request.user, request=request))


@router.delete("/backups/{int:backup_id}", response={204: None}, url_name="backup_delete")
def delete(request, backup_id: int):
    """Delete the backup and its archive; 409 while it is locked."""
    target = backup_for_user(request.user, backup_id, "backups.delete")
    service.delete(target, request.user, request=request)
    return Status(204, None)


@router.get("/backups/{int:backup_id}/download", url_name="backup_download")
def download(request, backup_id: int):
    """The archive (tar + zstd), or a redirect to a signed URL when the store is S3."""
    target = backup_for_user(request.user, backup_id, "backups.download")
    return service.download(target, request.user, request=request)
