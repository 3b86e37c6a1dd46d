"""Modes of what hostctl makes on the game host, so other local accounts read none of it.

A server's directory holds its console (chat, players' names and addresses), its
server.cfg (the RCON password) and its game files. Directories hostctl makes are 0750
and the files it writes 0640 (the console FIFO and server.cfg 0600), whatever the
umask; existing ones are brought down to that at the next install or start. The group
keeps read access, for an operator who shares a group with the panel's user. Modes only
ever get tighter: what an operator made tighter still is left as it is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from hostctl.errors import HostError

DIR_MODE = 0o750
FILE_MODE = 0o640
OWNER_ONLY = 0o600


def _tighten(fd: int, most: int) -> None:
    """At most `most`, keeping what the owner needs (rw, and x for a directory)."""
    st = os.fstat(fd)
    own = 0o700 if stat.S_ISDIR(st.st_mode) else 0o600
    mode = stat.S_IMODE(st.st_mode)
    wanted = (mode & most) | own
    if wanted != mode:
        try:
            os.fchmod(fd, wanted)
        except PermissionError:
            pass  # another account's file (an operator's): theirs to decide


def tighten_fd(fd: int, most: int = FILE_MODE) -> None:
    _tighten(fd, most)


def make_dirs(path: Path) -> Path:
    """`mkdir -p path`: each directory it makes, and `path` itself, at most 0750.

    Directories above `path` that already exist are left alone (HOSTCTL_ROOT made by
    an operator stays as they made it; made here, it is 0750 too).
    """
    missing = []
    for directory in (path, *path.parents):
        if directory.exists():
            break
        missing.append(directory)
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made meanwhile by another process: tightened just the same
        tighten_dir(directory)
    if not missing:
        tighten_dir(path)
    return path


def tighten_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        _tighten(fd, DIR_MODE)
    finally:
        os.close(fd)


def tighten_file(path: Path, most: int = FILE_MODE) -> None:
    """Bring an existing file (a FIFO too) down to `most`; nothing if it is missing or a symlink."""
    try:
        # O_NONBLOCK: opening a FIFO for reading must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # missing, or a symlink (O_NOFOLLOW): not ours to change
        return
    try:
        _tighten(fd, most)
    finally:
        os.close(fd)


def open_append(path: Path) -> int:
    """A descriptor appending to `path`, which is made 0640 (or tightened to it).

    Never through a symlink: anything running as the server's user (a plugin, say) could
    point console.log at another file of that user, such as the panel's database.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise HostError(f"{path.name} in the server's directory is a symbolic link: remove it") from None
        raise
    try:
        _tighten(fd, FILE_MODE)
    except OSError:
        os.close(fd)
        raise
    return fd


def write_text(path: Path, text: str) -> None:
    """Replace `path`'s content with `text`; the file is 0640 from the start (no readable window)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
    with open(fd, "w", encoding="utf-8") as out:
        _tighten(fd, FILE_MODE)
        out.write(text)
