"""What people (pages, API) and schedules do with backups: one place for the rules of the
limit, the locks and what a restore may name, so every way in refuses the same things."""

from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

import activity
from hostctl.backups import scope
from jobs.models import Job, JobKind, JobTrigger
from servers.models import Server

from .models import Backup, BackupState
from .store import get_store


class Refused(Exception):
    """An action on a backup that cannot be done now, with its HTTP status and the reason."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


VIA = {JobTrigger.SCHEDULE: "schedule"}


def start_backup(server, user, *, trigger=JobTrigger.USER, request=None, detail=None):
    """A new backup row and its queued job: (backup, job).

    At the server's limit a person is refused (409, with the reason); a schedule goes on, and
    the oldest unlocked backup is deleted once the new one is made (operations.py). Refused
    too while another backup of the server is being made.
    """
    with transaction.atomic():
        # One at a time per server: the count and the check below see every backup started before.
        Server.objects.select_for_update().filter(pk=server.pk).exists()
        backups = Backup.objects.filter(server=server)
        backups.settle()
        if busy := backups.filter(state=BackupState.CREATING).first():
            raise Refused(409, f"A backup of {server.name} is already being made (job #{busy.job_id}).")
        count, limit = backups.counted().count(), server.backup_limit
        if count >= limit:
            if trigger != JobTrigger.SCHEDULE:
                raise Refused(
                    409,
                    f"{server.name} has {count} backups and keeps at most {limit}: delete one, or raise "
                    "the limit, first. (Scheduled backups delete the oldest unlocked one themselves.)",
                )
            if not backups.ready().filter(locked=False).exists():
                raise Refused(
                    409, f"{server.name} is at its limit of {limit} backups and every one is locked."
                )
        now = timezone.now()
        name = f"{slugify(server.name) or 'server'}-{now:%Y%m%d-%H%M%S}"
        backup = Backup.objects.create(
            server=server, name=name, created_at=now, ignore=scope(server.backup_ignore)
        )
        job = Job.enqueue(
            server,
            JobKind.BACKUP,
            user,
            trigger=trigger,
            request=request,
            params={"backup": backup.pk},
            detail={"backup": backup.pk, **(detail or {})},
        )
        backup.job = job
        backup.save(update_fields=["job"])
        _record(
            "backup.created", backup, user, request, via=VIA.get(trigger, "web"), job=job.pk, **(detail or {})
        )
    return backup, job


def clean_paths(backup, paths):
    """The paths of a single-file restore, each checked against the backup's index (400 if not in it)."""
    if paths is None:
        return None
    if not isinstance(paths, list) or not paths or not all(isinstance(p, str) for p in paths):
        raise Refused(400, "“paths” must be a non-empty list of paths in the backup.")
    known = {path for path, _, _ in backup.members()}
    cleaned = []
    for path in paths:
        path = path.strip().strip("/")
        if path not in known:
            raise Refused(400, f"“{path}” is not in backup {backup.name}.")
        cleaned.append(path)
    return sorted(set(cleaned))


def start_restore(backup, user, *, truncate=False, paths=None, request=None):
    """Queue the restore of `backup` (all of it, or `paths`); the job."""
    if not backup.is_ready:
        raise Refused(
            409, f"Backup {backup.name} is {backup.get_state_display().lower()}: it cannot be restored."
        )
    paths = clean_paths(backup, paths)
    params = {"backup": backup.pk, "truncate": bool(truncate)}
    if paths is not None:
        params["paths"] = paths
    with transaction.atomic():
        job = Job.enqueue(
            backup.server, JobKind.RESTORE, user, request=request, params=params, detail={"backup": backup.pk}
        )
        if not job.duplicate:
            extra = {"paths": paths} if paths else {}
            _record("backup.restored", backup, user, request, job=job.pk, truncate=bool(truncate), **extra)
    return job


def delete(backup, user, *, request=None, via="web"):
    """Delete the backup and its archive; 409 while it is locked or being made."""
    if backup.locked:
        raise Refused(409, f"Backup {backup.name} is locked: unlock it before deleting it.")
    if backup.state == BackupState.CREATING:
        raise Refused(409, f"Backup {backup.name} is still being made: cancel its job first.")
    with transaction.atomic():
        _record("backup.deleted", backup, user, request, via=via)
        backup.delete()  # its archive goes once this commits (apps.py)


def set_locked(backup, locked, user, *, request=None):
    if backup.locked == locked:
        return backup
    Backup.objects.filter(pk=backup.pk).update(locked=locked)
    backup.locked = locked
    _record("backup.locked" if locked else "backup.unlocked", backup, user, request)
    return backup


def download(backup, user, *, request=None):
    """The response that hands the archive over (streamed, or a redirect to a signed URL)."""
    if not backup.is_ready:
        raise Refused(
            409,
            f"Backup {backup.name} is {backup.get_state_display().lower()}: there is nothing to download.",
        )
    store = get_store()
    if not store.exists(backup.key):
        raise Refused(404, f"The archive of backup {backup.name} is missing from the backup store.")
    response = store.download(backup.key, backup.filename)
    _record("backup.downloaded", backup, user, request)
    return response


def prune(server, keep):
    """Delete the oldest unlocked ready backups beyond the limit (never `keep`, the new one); by the panel."""
    ready = Backup.objects.ready().filter(server=server)
    excess = ready.count() - server.backup_limit
    if excess <= 0:
        return []
    victims = list(ready.filter(locked=False).exclude(pk=keep.pk).order_by("created_at", "id")[:excess])
    for backup in victims:
        delete(backup, None, via="schedule")
    return victims


def _record(action, backup, user, request, via="web", **detail):
    activity.record(
        action,
        actor=user,
        via=via,
        server=backup.server,
        request=request,
        detail={"backup": backup.pk, "name": backup.name, **detail},
    )
