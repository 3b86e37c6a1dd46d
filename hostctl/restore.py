"""Putting a backup's files in place: unpack into a staging folder beside the server's folder,
then swap them in with renames, keeping every file it replaces (or truncates) aside until the
swap is complete.

Unpacking is the long part and may fail or be cancelled: the server's files are not touched
until it is over. The swap is renames only (same file system), each written in a journal; if
one fails, the journal is undone backwards, so the files are exactly as they were.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pathspec

from hostctl import archive
from hostctl.errors import HostError
from hostctl.process import CancelToken, LineSink


def staging_dirs(root: Path) -> tuple[Path, Path]:
    """(staging, aside) for the folder `root`: beside it, so renames between them stay on one disk."""
    return root.parent / f".{root.name}.restore", root.parent / f".{root.name}.replaced"


def unpack(
    root: Path,
    source: BinaryIO,
    *,
    total: int,
    sha256: str,
    sink: LineSink,
    cancel: CancelToken | None = None,
    paths=None,
) -> tuple[Path, list[archive.Member]]:
    """Unpack the archive into the staging folder; (staging folder, members unpacked).

    The archive must hash to `sha256` (the backup as it was made), else HostError. On any
    failure or a cancel the staging folder is removed and the error raised again.
    """
    staging, aside = staging_dirs(root)
    if aside.exists():
        raise HostError(
            f"An earlier restore stopped in the middle of its swap; the files it replaced are in {aside}. "
            "Move them back (or delete that folder) before restoring again."
        )
    shutil.rmtree(staging, ignore_errors=True)  # what a crashed restore left unpacked
    staging.mkdir(parents=True)
    try:
        members, digest = archive.extract(source, staging, total=total, sink=sink, cancel=cancel, paths=paths)
        if digest != sha256:
            raise HostError("The archive in the store is damaged (its sha256 differs from the backup's)")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, members


@dataclass
class Swap:
    """The renames of one swap, in order, so they can be undone."""

    root: Path
    aside: Path
    done: list[tuple[str, Path, Path | None]] = field(default_factory=list)

    checked: set[Path] = field(default_factory=set)

    def _inside(self, path: Path) -> None:
        # Checked at the moment of use: a folder replaced by a link leading out since the backup
        # was made must not carry the restore outside the server's folder. Once per folder and
        # swap (the server is stopped; the swap lasts as long as its renames).
        parent = path.parent
        if parent in self.checked:
            return
        if not Path(os.path.realpath(parent)).is_relative_to(self.root.resolve()):
            raise HostError(
                f"{path.relative_to(self.root)} lies behind a link leading outside the server's folder"
            )
        self.checked.add(parent)

    def set_aside(self, rel: str) -> None:
        target, kept = self.root / rel, self.aside / rel
        self._inside(target)
        kept.parent.mkdir(parents=True, exist_ok=True)
        os.rename(target, kept)
        self.done.append(("aside", target, kept))

    def make_dir(self, rel: str) -> None:
        target = self.root / rel
        self._inside(target)
        os.mkdir(target)
        self.done.append(("mkdir", target, None))

    def place(self, staged: Path, rel: str) -> None:
        target = self.root / rel
        self._inside(target)
        os.rename(staged, target)
        self.done.append(("placed", target, staged))

    def remove_dir(self, rel: str) -> None:
        target = self.root / rel
        os.rmdir(target)
        self.done.append(("rmdir", target, None))

    def undo(self) -> None:
        for what, target, other in reversed(self.done):
            if what == "aside":
                os.rename(other, target)
            elif what == "mkdir":
                os.rmdir(target)
            elif what == "placed":
                os.rename(target, other)
            elif what == "rmdir":
                os.mkdir(target)


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _extra(root: Path, ignore: pathspec.PathSpec, keep: set[str], paths) -> tuple[list[str], list[str]]:
    """(files and links, folders) under `root` that the backup does not have, within its scope:
    not ignored, and inside `paths` when only some paths are restored."""
    files, folders = [], []
    for rel, st in archive.plan(root, ignore):
        if rel in keep or not archive.selected(rel, paths):
            continue
        (folders if stat.S_ISDIR(st.st_mode) else files).append(rel)
    return files, folders


def swap_in(
    root: Path,
    staging: Path,
    members: list[archive.Member],
    *,
    truncate: bool = False,
    ignore: pathspec.PathSpec,
    sink: LineSink,
    paths=None,
) -> None:
    """Move the staged members into `root`; with `truncate`, set aside what the backup does not
    have (within its scope). All or nothing: on any error every rename is undone."""
    root.mkdir(parents=True, exist_ok=True)
    _, aside = staging_dirs(root)
    swap = Swap(root, aside)
    aside.mkdir()
    try:
        if truncate:
            files, folders = _extra(root, ignore, {m.path for m in members}, paths)
            for rel in files:
                swap.set_aside(rel)
            # Deepest first; a folder still holding ignored files (or anything else) stays.
            for rel in sorted(folders, key=lambda r: r.count("/"), reverse=True):
                if not any((root / rel).iterdir()):
                    swap.remove_dir(rel)
            sink("system", f"Truncate: {len(files)} files the backup does not have were removed")
        for member in members:  # folders come before their contents in the archive
            target = root / member.path
            if member.type == "dir":
                if _is_dir(target):
                    continue
                if _exists(target):
                    swap.set_aside(member.path)
                swap.make_dir(member.path)
                continue
            if _exists(target):
                swap.set_aside(member.path)
            elif not _is_dir(target.parent):
                # A restore of one file whose folder is gone: make the folders it needs.
                for parent in reversed(Path(member.path).parents[:-1]):
                    if not _is_dir(root / parent):
                        if _exists(root / parent):
                            swap.set_aside(parent.as_posix())
                        swap.make_dir(parent.as_posix())
            swap.place(staging / member.path, member.path)
    except BaseException:
        swap.undo()  # if this fails too, `aside` stays with the originals, and the next restore says so
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)
    shutil.rmtree(staging, ignore_errors=True)
    sink("system", f"Restored {sum(m.type == 'file' for m in members)} files into {root}")
