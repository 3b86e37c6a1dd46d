"""A backup: one archive of a server's own files in the backup store (DESIGN.md §13)."""

import json

import zstandard
from django.db import models
from django.urls import reverse
from django.utils import timezone

from l4d2site.job_states import FINISHED_STATES
from servers.models import Server


class BackupState(models.TextChoices):
    CREATING = "creating", "Being made"
    "Its backup job is queued or running; the archive is not in the store yet."
    READY = "ready", "Ready"
    "The archive is in the store, with its size, sha256 and file list."
    FAILED = "failed", "Failed"
    "Its job failed or was cancelled; nothing is in the store (its job's log says why)."


class BackupQuerySet(models.QuerySet):
    def ready(self):
        return self.filter(state=BackupState.READY)

    def counted(self):
        """The backups that count against the server's limit: all but the failed ones."""
        return self.exclude(state=BackupState.FAILED)

    def settle(self):
        """Mark failed the backups still "being made" whose job ended without making them: cancelled
        while queued, or its worker died (jobs/recovery.py finishes such jobs, not their backups)."""
        return self.filter(state=BackupState.CREATING, job__state__in=FINISHED_STATES).update(
            state=BackupState.FAILED, finished_at=timezone.now()
        )


class Backup(models.Model):
    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="backups")
    name = models.CharField(max_length=120)
    state = models.CharField(max_length=8, choices=BackupState.choices, default=BackupState.CREATING)
    size = models.BigIntegerField(null=True, blank=True)  # bytes of the compressed archive
    sha256 = models.CharField(max_length=64, blank=True, default="")
    locked = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The gitignore patterns it was made with: its scope, which a truncating restore keeps to.
    ignore = models.TextField(blank=True, default="")
    # Its members as zstd-compressed JSON [[path, type, size], ...]: the contents can be browsed
    # (and single files picked for a restore) without asking the game host.
    index = models.BinaryField(default=b"")
    files = models.PositiveIntegerField(default=0)
    skipped = models.JSONField(default=list, blank=True)  # files that could not be captured

    objects = BackupQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["server", "-created_at"], name="backup_server_newest")]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("backups:detail", args=[self.server_id, self.pk])

    @property
    def key(self):
        """Its name in the store."""
        return f"server-{self.server_id}/backup-{self.pk}.tar.zst"

    @property
    def filename(self):
        return f"{self.name}.tar.zst"

    @property
    def is_ready(self):
        return self.state == BackupState.READY

    def set_members(self, members):
        rows = [[m.path, m.type, m.size] for m in members]
        self.index = zstandard.ZstdCompressor().compress(json.dumps(rows).encode())
        self.files = sum(1 for m in members if m.type == "file")

    def members(self):
        """[(path, type, size), ...] as archived."""
        if not self.index:
            return []
        return [tuple(row) for row in json.loads(zstandard.ZstdDecompressor().decompress(bytes(self.index)))]
