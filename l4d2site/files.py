"""Private files and directories: readable by the panel's own user only, whatever the umask.

The data directory holds the SQLite database (with every session key), the
secret key and the first admin password: another local account must not read them.
"""

import os
from pathlib import Path


def private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is filtered by the umask, and an existing dir keeps its own
    return path


def private_file(path: Path, content: str | None = None) -> Path:
    """Create `path` as 0600 from the start (no window where it is world-readable), or tighten it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if content is not None else 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        if content is not None:
            os.write(fd, content.encode())
    finally:
        os.close(fd)
    return path


def private_sqlite(path: Path) -> None:
    """The database and its -wal/-shm files: SQLite gives those the database file's mode."""
    private_file(path)
    for suffix in ("-wal", "-shm"):
        sidecar = path.with_name(path.name + suffix)
        if sidecar.exists():
            sidecar.chmod(0o600)
