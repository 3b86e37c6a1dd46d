"""Mods shipped as tarballs that unpack into the game directory (`left4dead2/`), kept by manifest.

As LinuxGSM's `mods_core.sh` does: check the archive, copy it in keeping what the owner
keeps, record each file it installed (`addons/.l4d2panel-<mod>-files.txt`, with the sha256
of each file as installed), and remove by that list. Beyond LinuxGSM:
- a file the mod installed in a kept place (configs, plugins) is updated while the owner
  has not changed it, kept once they have, and not brought back once they deleted it;
- a plugin the owner moved between `plugins/` and `plugins/disabled/` stays where they put it;
- removal deletes only the manifest's files, and in kept places only the unchanged ones.

Every path is opened one component at a time without following symbolic links (`dir_fd` +
`O_NOFOLLOW`), at the moment of use, so a link planted in the game directory (a plugin runs
as the server's user) can never make the panel write or delete outside it.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import stat
import tarfile
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from hostctl.errors import HostError
from hostctl.files import DIR_FLAGS
from hostctl.process import LineSink

MAX_MEMBERS = 20_000
MAX_UNPACKED = 1_000_000_000  # bytes: a real SourceMod unpacks to ~40 MB
SYMLINK = "symlink"  # what sha256() says of a link: never equal to a digest, so never "unchanged"


@dataclass(frozen=True)
class Mod:
    name: str  # "sourcemod": the manifest's name
    title: str  # "SourceMod": for people
    top_dirs: frozenset[str]  # what the archive may unpack at the top of left4dead2/
    required: tuple[str, ...]  # members without which it is not this mod's archive
    keep: tuple[str, ...] = ()  # the owner's places: directories end with "/"
    movable: tuple[str, str] | None = None  # (enabled dir, disabled dir) of plugins

    @property
    def manifest(self) -> str:
        return f"addons/.l4d2panel-{self.name}-files.txt"

    def kept(self, path: str) -> bool:
        return any(path.startswith(place) if place.endswith("/") else path == place for place in self.keep)

    def counterpart(self, path: str) -> str | None:
        """The same plugin in the other of `movable`'s directories, if `path` is a plugin."""
        if self.movable is None:
            return None
        enabled, disabled = self.movable
        parent, name = path.rsplit("/", 1)
        if parent + "/" == enabled:
            return disabled + name
        if parent + "/" == disabled:
            return enabled + name
        return None


@dataclass
class Installed:
    """A mod's manifest: what it is, and each file and directory its install added."""

    version: str
    archive: str
    sha256: str
    installed_at: str
    files: dict[str, str] = field(default_factory=dict)  # path -> sha256 as installed
    dirs: list[str] = field(default_factory=list)  # directories the install created

    def render(self, mod: Mod) -> str:
        head = (
            f"# l4d2panel {mod.name} {self.version} {self.installed_at} {self.archive} sha256:{self.sha256}\n"
        )
        lines = [f"d {path}" for path in self.dirs] + [
            f"f {sha} {path}" for path, sha in sorted(self.files.items())
        ]
        return head + "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Installed:
        head, *rows = text.splitlines()
        words = head.split()
        if len(words) != 7 or words[:2] != ["#", "l4d2panel"] or not words[6].startswith("sha256:"):
            raise HostError("The mod's manifest is damaged (its first line is not the panel's)")
        installed = cls(version=words[3], installed_at=words[4], archive=words[5], sha256=words[6][7:])
        for row in rows:
            kind, _, rest = row.partition(" ")
            if kind == "d":
                installed.dirs.append(rest)
            elif kind == "f":
                sha, _, path = rest.partition(" ")
                installed.files[path] = sha
        return installed


# --- the archive ---------------------------------------------------------------------


def verify(archive: Path, mod: Mod) -> list[tuple[tarfile.TarInfo, str]]:
    """The archive's members with their clean paths, or HostError saying what is wrong.

    A real gzip tarball, only plain files and directories, no absolute path, no `..`, only
    the mod's top directories, every required member, and not too big once unpacked.
    """
    with open(archive, "rb") as head:
        if head.read(2) != b"\x1f\x8b":
            raise HostError(f"{archive.name} is not a gzip file: the download is not {mod.title}'s archive")
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = tar.getmembers()
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise HostError(f"{archive.name} is not a readable tar.gz ({exc})") from None
    if len(members) > MAX_MEMBERS:
        raise HostError(f"{archive.name} has {len(members)} entries, more than {MAX_MEMBERS}")
    if sum(member.size for member in members) > MAX_UNPACKED:
        raise HostError(f"{archive.name} unpacks to more than {MAX_UNPACKED // 1_000_000} MB")
    checked = [(member, _clean(member, archive, mod)) for member in members]
    names = {path for _, path in checked} | {path + "/" for member, path in checked if member.isdir()}
    for required in mod.required:
        if required not in names and not any(name.startswith(required) for name in names):
            raise HostError(f"{archive.name} has no {required}: it is not {mod.title} as upstream ships it")
    return checked


def _clean(member: tarfile.TarInfo, archive: Path, mod: Mod) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    name = name.rstrip("/")
    parts = PurePosixPath(name).parts
    if not name or name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or "." in parts:
        raise HostError(f"{archive.name} holds an unsafe path: {member.name!r}")
    if not (member.isfile() or member.isdir()):
        raise HostError(f"{archive.name} holds {member.name!r}, which is neither a file nor a directory")
    if parts[0] not in mod.top_dirs:
        tops = ", ".join(sorted(mod.top_dirs))
        raise HostError(f"{archive.name} unpacks {parts[0]!r}, outside {mod.title}'s places ({tops})")
    return name


# --- the game directory, link-safe ---------------------------------------------------------


class GameDir:
    """`left4dead2/` of one server, every path walked component by component, links refused."""

    def __init__(self, path: Path) -> None:
        try:
            self.fd = os.open(path, DIR_FLAGS)
        except FileNotFoundError:
            raise HostError("The game is not installed (no left4dead2 directory): install it first") from None
        except OSError as exc:
            raise HostError(f"The game directory cannot be opened: {exc.strerror}") from None

    def close(self) -> None:
        os.close(self.fd)

    def __enter__(self) -> GameDir:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _parent(self, path: str, *, create: bool = False, made: list[str] | None = None) -> tuple[int, str]:
        """(fd of the directory holding `path`, its last name); FileNotFoundError if missing."""
        *dirs, name = path.split("/")
        fd = os.dup(self.fd)
        try:
            for depth, part in enumerate(dirs):
                try:
                    inner = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise
                    os.mkdir(part, 0o750, dir_fd=fd)
                    if made is not None:
                        made.append("/".join(dirs[: depth + 1]))
                    inner = os.open(part, DIR_FLAGS, dir_fd=fd)
                except OSError as exc:
                    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                        raise HostError(
                            f"left4dead2/{'/'.join(dirs[: depth + 1])} is not a directory"
                        ) from None
                    raise
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd, name

    def make_dirs(self, path: str) -> list[str]:
        """`mkdir -p path`; the directories it made, outermost first."""
        made: list[str] = []
        fd, name = self._parent(path + "/.", create=True, made=made)
        os.close(fd)
        return made

    def sha256(self, path: str) -> str | None:
        """The file's sha256; None if it is missing, SYMLINK if it is a link or not a plain file."""
        try:
            fd, name = self._parent(path)
        except (FileNotFoundError, HostError):
            return None
        try:
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=fd)
        except FileNotFoundError:
            return None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                return SYMLINK
            raise
        finally:
            os.close(fd)
        with open(file_fd, "rb") as source:
            if not stat.S_ISREG(os.fstat(source.fileno()).st_mode):
                return SYMLINK
            return hashlib.file_digest(source, "sha256").hexdigest()

    def read_text(self, path: str) -> str | None:
        try:
            fd, name = self._parent(path)
        except FileNotFoundError:
            return None
        try:
            file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        except FileNotFoundError:
            return None
        finally:
            os.close(fd)
        with open(file_fd, encoding="utf-8", errors="replace") as source:
            return source.read()

    def write(self, path: str, source, *, mode: int = 0o640, made: list[str] | None = None) -> str:
        """Write `source` (a binary file object) to `path`, beside it then renamed into place
        (a running server keeps the old file it has open); its sha256."""
        fd, name = self._parent(path, create=True, made=made)
        temp = f".{name}.l4d2panel-new"
        digest = hashlib.sha256()
        try:
            flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
            with open(os.open(temp, flags, mode, dir_fd=fd), "wb") as out:
                os.fchmod(out.fileno(), mode)
                while chunk := source.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
            os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
        except BaseException as exc:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp, dir_fd=fd)
            if isinstance(exc, IsADirectoryError):
                raise HostError(f"left4dead2/{path} is a directory where the mod has a file") from None
            raise
        finally:
            os.close(fd)
        return digest.hexdigest()

    def write_text(self, path: str, text: str) -> None:
        self.write(path, io.BytesIO(text.encode()))

    def unlink(self, path: str) -> bool:
        try:
            fd, name = self._parent(path)
        except (FileNotFoundError, HostError):
            return False
        try:
            os.unlink(name, dir_fd=fd)
            return True
        except FileNotFoundError:
            return False
        finally:
            os.close(fd)

    def rmdir_if_empty(self, path: str) -> bool:
        try:
            fd, name = self._parent(path)
        except (FileNotFoundError, HostError):
            return False
        try:
            os.rmdir(name, dir_fd=fd)
            return True
        except OSError:
            return False  # not empty (the owner's files), gone, or a link: left as it is
        finally:
            os.close(fd)


# --- install, update, remove -------------------------------------------------------------


def installed(game: GameDir, mod: Mod) -> Installed | None:
    text = game.read_text(mod.manifest)
    return Installed.parse(text) if text else None


def install(
    game: GameDir, mod: Mod, archive: Path, members, *, version: str, sha256: str, sink: LineSink
) -> Installed:
    """Copy the verified `members` of `archive` in (an update when the mod is installed);
    the new manifest, written last, so an interrupted run leaves the old one to go by."""
    old = installed(game, mod)
    new = Installed(
        version=version,
        archive=archive.name,
        sha256=sha256,
        installed_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        dirs=list(old.dirs) if old else [],
    )
    kept, not_restored = [], []
    with tarfile.open(archive, "r:gz") as tar:
        for member, path in members:
            if member.isdir():
                new.dirs += game.make_dirs(path)
                continue
            target = _where(game, mod, path)
            was = old.files.get(target, old.files.get(path)) if old else None
            on_disk = game.sha256(target)
            if mod.kept(target) and on_disk is not None and on_disk != was:
                kept.append(target)  # the owner's own file, or one they changed
                continue
            if mod.kept(target) and on_disk is None and was is not None:
                not_restored.append(target)  # installed before, deleted by the owner since
                continue
            mode = 0o750 if member.mode & 0o111 else 0o640
            new.files[target] = game.write(target, tar.extractfile(member), mode=mode, made=new.dirs)
    stale = 0
    for path, sha in (old.files if old else {}).items():
        if path not in new.files and game.sha256(path) == sha and game.unlink(path):
            stale += 1  # the old version's file the new one no longer ships
    game.write_text(mod.manifest, new.render(mod))
    sink("system", f"{mod.title} {version}: {len(new.files)} files installed.")
    if kept:
        sink("system", f"Kept {len(kept)} of your files as they are: {_some(kept)}.")
    if not_restored:
        sink("system", f"Not brought back (you deleted them): {_some(not_restored)}.")
    if stale:
        sink("system", f"Removed {stale} files of the previous version that this one no longer ships.")
    return new


def _where(game: GameDir, mod: Mod, path: str) -> str:
    """Where a file of the archive goes: a plugin the owner moved (enabled <-> disabled) stays moved."""
    other = mod.counterpart(path)
    if other and game.sha256(path) is None and game.sha256(other) is not None:
        return other
    return path


def remove(game: GameDir, mod: Mod, sink: LineSink) -> bool:
    """Delete what the manifest lists (in kept places only files the owner left unchanged),
    then the directories the install made once empty; False if the mod was not installed."""
    old = installed(game, mod)
    if old is None:
        return False
    deleted, kept = 0, []
    for path, sha in old.files.items():
        on_disk = game.sha256(path)
        if on_disk is None and (other := mod.counterpart(path)) and game.sha256(other) == sha:
            path, on_disk = other, sha  # a stock plugin the owner enabled or disabled
        if on_disk is None:
            continue
        if mod.kept(path) and on_disk != sha:
            kept.append(path)
            continue
        deleted += game.unlink(path)
    game.unlink(mod.manifest)
    left = [
        path
        for path in sorted(old.dirs, key=lambda p: p.count("/"), reverse=True)
        if not game.rmdir_if_empty(path)
    ]
    sink("system", f"{mod.title} {old.version} removed: {deleted} files deleted.")
    if kept:
        sink("system", f"Kept {len(kept)} files you changed: {_some(kept)}.")
    if left:
        sink("system", f"Kept {len(left)} directories that hold your files: {_some(left)}.")
    return True


def _some(paths: list[str], shown: int = 5) -> str:
    more = len(paths) - shown
    return ", ".join(paths[:shown]) + (f" and {more} more" if more > 0 else "")
