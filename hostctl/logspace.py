"""Keeping a running server's console.log within its disk budget, without losing a line.

srcds holds console.log open (O_APPEND) for as long as it runs, and it outlives the
worker, so the file cannot be swapped under it while it runs: a rename leaves srcds
writing to the renamed file, and copytruncate loses whatever srcds writes between the
copy and the truncation. (A too-big file is still rotated to console.log.1 at each
start, when no srcds writes it: srcds.mark_start.)

Instead the part the panel has stored is handed back to the filesystem in place:
once the console pump has committed the lines up to byte P (with P, in one
transaction), the blocks before P, but for the last `keep` bytes, are released with
fallocate(FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE). The file keeps its length, so
every byte position stays valid: the pump's stored cursor, a reader's resume point, and
srcds's appends, which go on at the end. Only the released part reads as zeros, and
`console.ConsoleReader` skips a hole with a note rather than reading zeros as lines
(that only happens to a reader far behind the stored cursor, e.g. after a database
restored from an old backup). The apparent size (`ls -l`) keeps growing; the disk
use (`du`, st_blocks) stays under the budget: stored and not yet released are at most
half of it plus `keep` (a quarter at most), and the rest is what the pump has not
stored yet (a pass's worth while the worker runs; while it is down nothing is released,
as nothing may be lost).

ext4, XFS, btrfs and tmpfs punch holes. Where the filesystem refuses (some network
filesystems), `ConsoleSpace.stored` raises Refused once and then does nothing: the file
then grows while the server runs and is rotated at its next start.

Only the worker of the server's host calls this, through its console pump: it alone
knows how far the lines are stored.
"""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

from hostctl.console import Position

FALLOC_FL_KEEP_SIZE = 0x01
FALLOC_FL_PUNCH_HOLE = 0x02
KEEP_BYTES = 1024 * 1024  # stored lines kept on disk: crash.tail_lines reads the last 256 KiB
# What a filesystem that cannot punch holes answers; anything else (ENOSPC, EIO) may pass.
_CANNOT = {errno.EOPNOTSUPP, errno.ENOSYS, errno.ENODEV, errno.EPERM, errno.EINVAL}


class Refused(OSError):
    """The filesystem cannot release parts of a file (said once per ConsoleSpace)."""


def _fallocate():
    libc = ctypes.CDLL(None, use_errno=True)
    # fallocate64 takes a 64-bit offset on 32-bit glibc too; musl has only fallocate (64-bit).
    call = getattr(libc, "fallocate64", None) or libc.fallocate
    call.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    call.restype = ctypes.c_int
    return call


_call = None


def punch_hole(fd: int, offset: int, length: int) -> None:
    """Give the blocks of [offset, offset + length) back to the filesystem; the file keeps its size.

    Python has no binding for fallocate's modes (os.posix_fallocate only allocates),
    so libc's is called. Raises OSError with the filesystem's errno.
    """
    global _call
    if _call is None:
        _call = _fallocate()
    while _call(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) != 0:
        code = ctypes.get_errno()
        if code != errno.EINTR:
            raise OSError(code, os.strerror(code))


class ConsoleSpace:
    """One server's console.log, released up to where its lines are stored.

    `limit`: the disk budget in bytes. Stored bytes are released once they amount to
    half of it, keeping the last `keep` (crash reports and a start job's tail read there).
    """

    def __init__(self, path: Path, limit: int) -> None:
        self.path = Path(path)
        self.limit = limit
        self.keep = min(KEEP_BYTES, limit // 4)
        self.released = Position()  # everything before this offset of this file is released
        self.refused: OSError | None = None

    def stored(self, position: Position) -> int:
        """Everything before `position` is stored for good; returns how many bytes were released now."""
        if self.refused is not None or not position.file_id:
            return 0
        start = self.released.offset if self.released.file_id == position.file_id else 0
        end = position.offset - self.keep
        if end - start < self.limit // 2:
            return 0
        try:
            # Never created, never truncated here; write access is what fallocate needs.
            fd = os.open(self.path, os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return 0  # gone (the server's directory was removed): nothing to release
        try:
            st = os.fstat(fd)
            if f"{st.st_dev}:{st.st_ino}" != position.file_id:
                return 0  # console.log was rotated since: that position is another file's
            block = st.st_blksize or 4096
            # Whole blocks only: a partial block would be zeroed, not released.
            start, end = start - start % block, end - end % block
            if end > start:
                try:
                    punch_hole(fd, start, end - start)
                except OSError as exc:
                    if exc.errno in _CANNOT:
                        self.refused = exc
                        reason = f"cannot release parts of {self.path}: {exc.strerror}"
                        raise Refused(exc.errno, reason) from exc
                    raise
        finally:
            os.close(fd)
        self.released = Position(position.file_id, end)
        return end - start
