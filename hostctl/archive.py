"""Backup archives: a tar stream compressed with zstandard, made from a consistent view of a
directory, and unpacked with every member checked.

A file goes into the archive only if its size and times are the same after it was read as
before: a file written while it is read is read again, up to TRIES times, and left out (named
in `Made.skipped`) if it never holds still (_TarWriter says how). Members are regular files,
folders and symbolic links that stay inside the tree; unpacking refuses anything else
(absolute names, `..`, links leading out, devices), and makes the links last, checked again
by tarfile's "data" filter, so no file is ever written through a link.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

import pathspec
import zstandard

from hostctl.errors import HostError
from hostctl.process import PROGRESS, CancelToken, LineSink

CHUNK = 1 << 20
IN_MEMORY = 8 << 20  # files up to this size are copied into memory; larger ones into a spool file
TRIES = 3  # reads of a file that keeps changing before it is left out


class Unsafe(HostError):
    """An archive member that would land outside the destination, or is not a file, folder or link."""


class Cancelled(Exception):
    """The cancel token was raised: the caller discards what was written."""


@dataclass(frozen=True)
class Member:
    path: str  # relative to the archived directory, "/"-separated
    type: str  # "file", "dir" or "link"
    size: int  # bytes of a file; 0 for the others


@dataclass
class Made:
    members: list[Member]
    skipped: list[str]  # files that changed on every read, or links leading out: not in the archive
    size: int  # bytes of the compressed archive
    sha256: str  # of the compressed archive
    read: int  # bytes of file data read


def ignore_spec(lines) -> pathspec.PathSpec:
    """gitignore patterns (comments and blank lines allowed) as a matcher of relative paths."""
    return pathspec.GitIgnoreSpec.from_lines(list(lines))


# --- writing ------------------------------------------------------------------------


class _Counted(io.RawIOBase):
    """A write-only file that counts and hashes what passes through to `out`, and can go back
    to an earlier mark (`out` must be seekable: a file, or the S3 store's spool file)."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.size = 0
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.out.write(data)
        self.hash.update(data)
        self.size += len(data)
        return len(data)

    def mark(self):
        return self.out.tell(), self.size, self.hash.copy()

    def rewind(self, mark) -> None:
        position, self.size, self.hash = mark
        self.out.seek(position)
        self.out.truncate()


class _Progress:
    """PROGRESS lines from bytes read out of `total`, one per whole percent."""

    def __init__(self, sink: LineSink, total: int) -> None:
        self.sink, self.total, self.done, self.shown = sink, max(1, total), 0, -1

    def add(self, count: int) -> None:
        self.done += count
        percent = min(100, self.done * 100 // self.total)
        if percent != self.shown:
            self.shown = percent
            self.sink(PROGRESS, str(percent))


def plan(root: Path, ignore: pathspec.PathSpec) -> Iterator[tuple[str, os.stat_result]]:
    """(relative path, lstat) of what is not ignored under `root`, folders before their contents,
    in name order; ignored folders are not entered at all."""
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath).relative_to(root)
        kept = []
        for name in sorted(dirnames):
            rel = (base / name).as_posix()
            if ignore.match_file(rel + "/"):
                continue
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISLNK(st.st_mode):
                filenames.append(name)  # a link to a folder is archived as the link
                continue
            kept.append(name)
            yield rel, st
        dirnames[:] = kept
        for name in sorted(filenames):
            rel = (base / name).as_posix()
            if not ignore.match_file(rel):
                yield rel, os.lstat(os.path.join(dirpath, name))


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_ino,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


def _held_still(fd: int, path: Path, before: os.stat_result) -> bool:
    """Whether the open file is as it was `before`, and `path` still names it (not replaced)."""
    try:
        now = os.stat(path, follow_symlinks=False)
    except OSError:
        return False
    after = os.fstat(fd)
    return _same(before, after) and _same(after, now)


def _read(fd: int, limit: int, progress: _Progress, cancel: CancelToken | None) -> Iterator[bytes]:
    """The file's bytes in chunks, at most `limit` of them."""
    while limit > 0:
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        data = os.read(fd, min(CHUNK, limit))
        if not data:
            return
        progress.add(len(data))
        limit -= len(data)
        yield data


def _link_inside(rel: str, target: str) -> bool:
    """Whether a link at `rel` pointing to `target` stays inside the archived directory."""
    if not target or target.startswith("/") or "\0" in target:
        return False
    parts = (PurePosixPath(rel).parent / target).parts
    depth = 0
    for part in parts:
        depth += -1 if part == ".." else 0 if part == "." else 1
        if depth < 0:
            return False
    return True


def _info(rel: str, st: os.stat_result, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(rel)
    info.type = kind
    info.mode = stat.S_IMODE(st.st_mode)
    # Whole seconds, as tar keeps them: a fraction would cost every member a PAX header.
    info.mtime = int(st.st_mtime)
    info.size = st.st_size if kind == tarfile.REGTYPE else 0
    return info  # owner left as root/0: the files are restored as whoever runs the restore


class _TarWriter:
    """A PAX tar stream written into a zstd compressor, member by member.

    A file whose size or times moved while it was read must not be in the archive, and a tar
    member cannot be taken back once written. Small files are read into memory first and
    written only if they held still. A large file is streamed in a zstd frame of its own
    (frames are independent), so if it moved, the archive is cut back to where the frame
    began and the file read again: no second copy of big files on disk.
    """

    def __init__(self, out: BinaryIO, level: int) -> None:
        self.counted = _Counted(out)
        self.zstd = zstandard.ZstdCompressor(level=level).stream_writer(self.counted, closefd=False)
        self.offset = 0  # bytes of tar written

    def _write(self, data: bytes) -> None:
        self.zstd.write(data)
        self.offset += len(data)

    def entry(self, info: tarfile.TarInfo, data: bytes = b"") -> None:
        """A folder, a link or a small file, at once."""
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape") + data)
        self._write(tarfile.NUL * (-len(data) % tarfile.BLOCKSIZE))

    def file(self, rel: str, path: Path, progress: _Progress, cancel: CancelToken | None):
        """Add the regular file at `path` as it was through one whole read; its stat, or None if it
        changed during each of TRIES reads (or is gone, or is no longer a regular file)."""
        for _ in range(TRIES):
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
            except OSError:
                return None
            try:
                before = os.fstat(fd)
                if not stat.S_ISREG(before.st_mode):
                    return None
                if before.st_size <= IN_MEMORY:
                    # One byte more than expected tells a file that grew.
                    data = b"".join(_read(fd, before.st_size + 1, progress, cancel))
                    if len(data) == before.st_size and _held_still(fd, path, before):
                        self.entry(_info(rel, before, tarfile.REGTYPE), data)
                        return before
                elif self._streamed(fd, rel, path, before, progress, cancel):
                    return before
            finally:
                os.close(fd)
        return None

    def _streamed(self, fd, rel, path, before, progress, cancel) -> bool:
        self.zstd.flush(zstandard.FLUSH_FRAME)  # all before this file is complete in `out`
        mark, offset = self.counted.mark(), self.offset
        self._write(_info(rel, before, tarfile.REGTYPE).tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        read = 0
        for data in _read(fd, before.st_size, progress, cancel):
            self._write(data)
            read += len(data)
        if read == before.st_size and _held_still(fd, path, before):
            self._write(tarfile.NUL * (-read % tarfile.BLOCKSIZE))
            return True
        self.zstd.flush(zstandard.FLUSH_FRAME)  # nothing of this member left in the compressor
        self.counted.rewind(mark)
        self.offset = offset
        return False

    def close(self) -> None:
        """The two zero blocks that end a tar, padded to a whole record, and the frame's end."""
        self._write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        self._write(tarfile.NUL * (-self.offset % tarfile.RECORDSIZE))
        self.zstd.close()  # `out` stays open (closefd=False)


def create(
    root: Path,
    out: BinaryIO,
    *,
    ignore: pathspec.PathSpec,
    level: int = 3,
    sink: LineSink,
    cancel: CancelToken | None = None,
) -> Made:
    """Archive `root` (less what `ignore` matches) into `out` (seekable) as tar + zstd;
    Cancelled if cancelled. Progress goes to `sink` as the share of file bytes read so far.
    """
    root = Path(root)
    entries = list(plan(root, ignore))
    total = sum(st.st_size for _, st in entries if stat.S_ISREG(st.st_mode))
    sink("system", f"Backing up {len(entries)} files and folders ({total / 1e6:.1f} MB) from {root}")
    progress = _Progress(sink, total)
    tar = _TarWriter(out, level)
    members, skipped = [], []
    for rel, st in entries:
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        path = root / rel
        if stat.S_ISDIR(st.st_mode):
            tar.entry(_info(rel, st, tarfile.DIRTYPE))
            members.append(Member(rel, "dir", 0))
        elif stat.S_ISLNK(st.st_mode):
            target = os.readlink(path)
            if not _link_inside(rel, target):
                sink("stderr", f"Not backed up: {rel} is a link leading outside the server's folder")
                skipped.append(rel)
                continue
            info = _info(rel, st, tarfile.SYMTYPE)
            info.linkname = target
            tar.entry(info)
            members.append(Member(rel, "link", 0))
        elif stat.S_ISREG(st.st_mode):
            held = tar.file(rel, path, progress, cancel)
            if held is None:
                sink("stderr", f"Not backed up: {rel} kept changing while it was read ({TRIES} tries)")
                skipped.append(rel)
                continue
            members.append(Member(rel, "file", held.st_size))
        # fifos, sockets and devices are no file a server keeps
    tar.close()
    sink(PROGRESS, "100")
    return Made(members, skipped, tar.counted.size, tar.counted.hash.hexdigest(), progress.done)


# --- reading ------------------------------------------------------------------------


class _Reading(io.RawIOBase):
    """A read-only file that counts and hashes what is read from `source`, with progress."""

    def __init__(self, source: BinaryIO, on_read: Callable[[int], None]) -> None:
        self.source = source
        self.on_read = on_read
        self.hash = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.source.read(len(buffer))
        buffer[: len(data)] = data
        self.hash.update(data)
        self.on_read(len(data))
        return len(data)

    def drain(self) -> str:
        """Read to the end (past the archive's last block) and return the sha256 of all of it."""
        while self.read(CHUNK):
            pass
        return self.hash.hexdigest()


def check_member(member: tarfile.TarInfo) -> str:
    """The member's safe relative path; Unsafe if it is absolute, climbs out, or is not a file,
    folder or link inside the tree."""
    name = member.name
    if not name or "\0" in name or name.startswith("/") or ".." in PurePosixPath(name).parts:
        raise Unsafe(f"The archive holds an unsafe path: {name!r}")
    if member.isdir() or member.isreg():
        return name.rstrip("/")
    if member.issym():
        if not _link_inside(name, member.linkname):
            raise Unsafe(f"The archive holds a link leading outside: {name!r} -> {member.linkname!r}")
        return name
    raise Unsafe(f"The archive holds something that is not a file, folder or link: {name!r}")


def _member(info: tarfile.TarInfo, path: str) -> Member:
    kind = "dir" if info.isdir() else "link" if info.issym() else "file"
    return Member(path, kind, info.size if kind == "file" else 0)


def selected(path: str, paths) -> bool:
    """Whether `path` is one of `paths` or inside one of them (all when `paths` is None)."""
    return paths is None or any(path == p or path.startswith(p + "/") for p in paths)


def _plain(member: tarfile.TarInfo, dest: str) -> tarfile.TarInfo:
    """The extraction filter of files and folders: the staging folder holds no link yet (links
    come last), so check_member's look at the name is enough and tarfile's "data" filter, which
    resolves every path on disk, is not needed. Like it: no owners, no set-id bits, no group or
    other write, the owner may read and write."""
    mode = (member.mode & 0o755) | (0o700 if member.isdir() else 0o600)
    return member.replace(mode=mode, uid=None, gid=None, uname=None, gname=None, deep=False)


def extract(
    archive: BinaryIO,
    dest: Path,
    *,
    total: int,
    sink: LineSink,
    cancel: CancelToken | None = None,
    paths=None,
) -> tuple[list[Member], str]:
    """Unpack `archive` (tar + zstd, `total` bytes) into the empty folder `dest`: every member, or
    those in or under `paths`. Returns (members unpacked, sha256 of the whole archive as read).

    Raises Unsafe at the first unsafe member and Cancelled if cancelled; what was unpacked
    until then stays in `dest` for the caller to throw away. Progress: archive bytes read.
    """
    progress = _Progress(sink, total)

    def on_read(count):
        # Checked on every read, so a cancel does not wait for a large member's end.
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        progress.add(count)

    reading = _Reading(archive, on_read)
    stream = zstandard.ZstdDecompressor().stream_reader(reading, closefd=False, read_across_frames=True)
    members, links = [], []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for info in tar:
            path = check_member(info)
            if not selected(path, paths):
                continue
            if info.issym():
                links.append(info)
            else:
                tar.extract(info, dest, filter=_plain)
            members.append(_member(info, path))
        for info in links:
            try:
                tar.extract(info, dest, filter="data")
            except tarfile.FilterError as exc:  # a link through a link that leads out, say
                raise Unsafe(f"The archive holds an unsafe member: {exc}") from None
    return members, reading.drain()


def list_members(archive: BinaryIO) -> list[Member]:
    """What the archive holds, without unpacking it (each member checked as extract would)."""
    stream = zstandard.ZstdDecompressor().stream_reader(archive, closefd=False, read_across_frames=True)
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        return [_member(info, check_member(info)) for info in tar]
