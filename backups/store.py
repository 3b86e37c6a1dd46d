"""The backup store: a folder on the host (L4D2_BACKUP_DIR), or an S3-compatible bucket
(L4D2_BACKUP_S3_*) through django-storages.

The worker writes and reads archives through it; the web process deletes them and answers
downloads (a streamed file, or a redirect to a signed URL that expires).
"""

import logging
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.http import FileResponse, HttpResponseRedirect

SIGNED_URL_SECONDS = 300

log = logging.getLogger(__name__)


class DirectoryStore:
    def __init__(self, root):
        self.root = Path(root)

    def _path(self, key):
        return self.root / key

    @contextmanager
    def writer(self, key):
        """A file to write the archive into; it takes its name only if the block ends normally."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        part = path.with_name(path.name + ".part")
        try:
            with open(part, "wb") as out:
                yield out
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)

    def reader(self, key):
        return open(self._path(key), "rb")

    def delete(self, key):
        self._path(key).unlink(missing_ok=True)

    def exists(self, key):
        return self._path(key).exists()

    def download(self, key, filename):
        return FileResponse(self.reader(key), as_attachment=True, filename=filename)


class S3Store:
    def __init__(self):
        from storages.backends.s3 import S3Storage

        self.storage = S3Storage(
            bucket_name=settings.L4D2_BACKUP_S3_BUCKET,
            endpoint_url=settings.L4D2_BACKUP_S3_ENDPOINT_URL,
            access_key=settings.L4D2_BACKUP_S3_ACCESS_KEY,
            secret_key=settings.L4D2_BACKUP_S3_SECRET_KEY,
            region_name=settings.L4D2_BACKUP_S3_REGION,
            querystring_auth=True,
            querystring_expire=SIGNED_URL_SECONDS,
            file_overwrite=True,
            default_acl=None,
        )

    @contextmanager
    def writer(self, key):
        """A local spool file; uploaded only if the block ends normally (no half archive in the bucket)."""
        spool_dir = Path(settings.L4D2_BACKUP_DIR) / "spool"
        spool_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        with tempfile.TemporaryFile(dir=spool_dir) as out:
            yield out
            out.seek(0)
            self.storage.save(key, File(out, name=key))

    def reader(self, key):
        return self.storage.open(key, "rb")

    def delete(self, key):
        self.storage.delete(key)

    def exists(self, key):
        return self.storage.exists(key)

    def download(self, key, filename):
        disposition = f'attachment; filename="{filename}"'
        return HttpResponseRedirect(
            self.storage.url(key, parameters={"ResponseContentDisposition": disposition})
        )


def forget_archive(sender, instance, **kwargs):
    """post_delete of a Backup: delete its archive from the store once the deletion commits
    (a store that fails then leaves an orphan archive, never a row without its archive)."""

    key = instance.key  # now: once deleted, the instance has no pk to name it by

    def delete():
        try:
            get_store().delete(key)
        except Exception:
            log.exception("the archive %s could not be deleted from the backup store", key)

    transaction.on_commit(delete)


def get_store():
    if settings.L4D2_BACKUP_S3_BUCKET:
        return S3Store()
    return DirectoryStore(settings.L4D2_BACKUP_DIR)
