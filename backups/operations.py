"""The backup and restore jobs' glue: the worker runs these through servers.l4d2_facade.run
(apps.py registers them); hostctl does the files, this side the row and the store."""

from django.conf import settings
from django.utils import timezone

from hostctl import archive
from hostctl import backups as host_backups
from hostctl.errors import HostError
from jobs.models import Job, JobTrigger

from . import service
from .models import Backup, BackupState
from .store import get_store


def _backup_row(spec, params, **states):
    try:
        return Backup.objects.select_related("server").get(
            pk=params.get("backup"), server_id=spec.id, **states
        )
    except Backup.DoesNotExist:
        raise HostError("That backup no longer exists") from None


def backup(spec, sink, cancel=None, *, config, params):
    """Make the backup named by params["backup"]: archive, store, record; the exit code."""
    row = _backup_row(spec, params)
    try:
        with get_store().writer(row.key) as out:
            made = host_backups.backup(
                spec, out, sink, cancel, ignore=row.ignore, level=settings.L4D2_BACKUP_ZSTD_LEVEL
            )
    except archive.Cancelled:
        _fail(row)
        sink("system", "Cancel requested: the backup was not made.")
        return 1
    except BaseException:
        _fail(row)
        raise
    row.state, row.size, row.sha256, row.skipped = BackupState.READY, made.size, made.sha256, made.skipped
    row.finished_at = timezone.now()
    row.set_members(made.members)
    row.save()
    sink(
        "system",
        f"Backup {row.name}: {row.files} files, {made.read / 1e6:.1f} MB read, "
        f"{made.size / 1e6:.1f} MB stored, sha256 {made.sha256}",
    )
    trigger = Job.objects.filter(pk=row.job_id).values_list("trigger", flat=True).first()
    if trigger == JobTrigger.SCHEDULE:
        for old in service.prune(row.server, keep=row):
            sink(
                "system",
                f"Deleted the oldest unlocked backup, {old.name}, "
                f"to keep to the limit of {row.server.backup_limit}.",
            )
    return 0


def _fail(row):
    Backup.objects.filter(pk=row.pk).update(state=BackupState.FAILED, finished_at=timezone.now())


def restore(spec, sink, cancel=None, *, config, hurry=None, params):
    """Restore the backup named by params["backup"] (params["paths"] only, if given); the exit code."""
    row = _backup_row(spec, params, state=BackupState.READY)
    sink("system", f"Restoring backup {row.name} ({row.size / 1e6:.1f} MB, sha256 {row.sha256[:12]}…)")
    with get_store().reader(row.key) as source:
        return host_backups.restore(
            spec,
            source,
            sink,
            cancel,
            config=config,
            hurry=hurry,
            size=row.size,
            sha256=row.sha256,
            ignore=row.ignore,
            truncate=bool(params.get("truncate")),
            paths=params.get("paths"),
        )
