"""Backup archives: a tar stream compressed with zstandard, made from a consistent view of a
directory, and unpacked with every member checked.

A file is first copied aside (into memory, or a spool file when large) and only goes into
the archive if its size and times are the same after the copy as before: a file written
while it is read is read again, up to TRIES times, and left out (named in `Made.skipped`)
if it never holds still. A tar member cannot be taken back once written, so the copy comes
first. Members are regular files, directories and symbolic links that stay inside the tree;
unpacking refuses anything else (absolute names, `..`, links leading out, devices) before
tarfile's own "data" filter looks at it again.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import tempfile
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
    """A write-only file that counts and hashes what passes through to `out`."""

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


def _copy(fd: int, into: BinaryIO, progress: _Progress, cancel: CancelToken | None) -> int:
    """Copy what `fd` holds into `into`, to its end; the bytes copied."""
    copied = 0
    while data := os.read(fd, CHUNK):
        if cancel is not None and cancel.cancelled:
            raise Cancelled
        into.write(data)
        copied += len(data)
        progress.add(len(data))
    return copied


def capture(path: Path, progress: _Progress, cancel: CancelToken | None, spool_dir: Path):
    """(stat, copy) of the file at `path` as it was through one whole read, or None if it changed
    on every one of TRIES reads (or is gone, or is no longer a regular file)."""
    for _ in range(TRIES):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            before = os.fstat(fd)
            if not stat.S_ISREG(before.st_mode):
                return None
            copy = io.BytesIO() if before.st_size <= IN_MEMORY else tempfile.TemporaryFile(dir=spool_dir)
            copied = _copy(fd, copy, progress, cancel)
            after = os.fstat(fd)
            try:
                now = os.stat(path, follow_symlinks=False)  # not replaced by another file meanwhile
            except OSError:
                now = None
        finally:
            os.close(fd)
        if copied == after.st_size and _same(before, after) and now is not None and _same(after, now):
            copy.seek(0)
            return after, copy
        copy.close()
    return None


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
    info.mtime = st.st_mtime
    return info  # owner left as root/0: the files are restored as whoever runs the restore


def create(
    root: Path,
    out: BinaryIO,
    *,
    ignore: pathspec.PathSpec,
    level: int = 3,
    sink: LineSink,
    cancel: CancelToken | None = None,
    spool_dir: Path | None = None,
) -> Made:
    """Archive `root` (less what `ignore` matches) into `out` as tar + zstd; Cancelled if cancelled.

    Progress goes to `sink` as the share of file bytes read so far.
    """
    root = Path(root)
    entries = list(plan(root, ignore))
    total = sum(st.st_size for _, st in entries if stat.S_ISREG(st.st_mode))
    sink("system", f"Backing up {len(entries)} files and folders ({total / 1e6:.1f} MB) from {root}")
    progress = _Progress(sink, total)
    counted = _Counted(out)
    writer = zstandard.ZstdCompressor(level=level).stream_writer(counted, closefd=False)
    members, skipped = [], []
    with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rel, st in entries:
            if cancel is not None and cancel.cancelled:
                raise Cancelled
            path = root / rel
            if stat.S_ISDIR(st.st_mode):
                tar.addfile(_info(rel, st, tarfile.DIRTYPE))
                members.append(Member(rel, "dir", 0))
            elif stat.S_ISLNK(st.st_mode):
                target = os.readlink(path)
                if not _link_inside(rel, target):
                    sink("stderr", f"Not backed up: {rel} is a link leading outside the server's folder")
                    skipped.append(rel)
                    continue
                info = _info(rel, st, tarfile.SYMTYPE)
                info.linkname = target
                tar.addfile(info)
                members.append(Member(rel, "link", 0))
            elif stat.S_ISREG(st.st_mode):
                captured = capture(path, progress, cancel, spool_dir or root.parent)
                if captured is None:
                    sink("stderr", f"Not backed up: {rel} kept changing while it was read ({TRIES} tries)")
                    skipped.append(rel)
                    continue
                st, copy = captured
                with copy:
                    info = _info(rel, st, tarfile.REGTYPE)
                    info.size = st.st_size
                    tar.addfile(info, copy)
                members.append(Member(rel, "file", st.st_size))
            # fifos, sockets and devices are no file a server keeps
    writer.close()  # the frame's end; `out` stays open (closefd=False)
    sink(PROGRESS, "100")
    return Made(members, skipped, counted.size, counted.hash.hexdigest(), progress.done)


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


def extract(
    archive: BinaryIO,
    dest: Path,
    *,
    total: int,
    sink: LineSink,
    cancel: CancelToken | None = None,
    paths=None,
) -> tuple[list[Member], str]:
    """Unpack `archive` (tar + zstd, `total` bytes) into `dest`: every member, or those in or
    under `paths`. Returns (members unpacked, sha256 of the whole archive as read).

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
    stream = zstandard.ZstdDecompressor().stream_reader(reading, closefd=False)
    members = []
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        for info in tar:
            path = check_member(info)
            if not selected(path, paths):
                continue
            try:
                tar.extract(info, dest, filter="data")
            except tarfile.FilterError as exc:  # a link through a link that leads out, say
                raise Unsafe(f"The archive holds an unsafe member: {exc}") from None
            members.append(_member(info, path))
    return members, reading.drain()


def list_members(archive: BinaryIO) -> list[Member]:
    """What the archive holds, without unpacking it (each member checked as extract would)."""
    stream = zstandard.ZstdDecompressor().stream_reader(archive, closefd=False)
    with tarfile.open(fileobj=stream, mode="r|") as tar:
        return [_member(info, check_member(info)) for info in tar]
