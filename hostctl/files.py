"""A server's own files on the game host, for the panel's file manager (DESIGN.md §13).

Every path is relative to the server's directory and is resolved here, on the game
host, at the moment of use: one component at a time, each opened relative to the
descriptor of the folder before it (never by a path string the kernel would walk
again). A symlink met on the way is followed by hand, inside the server's directory
only: one that leads out, `..` that would climb above it, an absolute path or a NUL
is refused (BadPath, 400). Because nothing is looked up twice by name, a symlink put
in place after the panel listed a folder, or swapped in while a request runs, is
met by the same check (a folder opened with O_NOFOLLOW fails rather than follow it).

Writes go to a temporary file beside the target, then rename over it: a reader (or
srcds) sees the old file or the new one, never half of one. server.cfg is the
panel's (written at every start from the settings): writing or renaming it is a
Conflict (409) that points to the settings.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
import shutil
import stat
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

SERVER_CFG = "left4dead2/cfg/server.cfg"
MAX_LINKS = 40  # symlinks followed in one path, as the kernel allows (ELOOP beyond)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO (the server's console.fifo) must not wait for a writer.
READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
NEW_FILE_MODE = 0o640  # as hostctl makes a server's other files: nothing for other local accounts
NEW_DIR_MODE = 0o750


class FileError(Exception):
    """A file operation refused or failed; `status` is the HTTP status that says why."""

    status = 500

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail


class BadPath(FileError):
    status = 400


class NotFound(FileError):
    status = 404


class Conflict(FileError):
    status = 409


class TooLarge(FileError):
    status = 413


SERVER_CFG_CONFLICT = (
    "server.cfg is written by the panel from the server's settings at every start: "
    "change it on the Settings page."
)


def parts_of(path: str) -> list[str]:
    """The components of a path relative to the server's directory; BadPath if it is not one."""
    if not isinstance(path, str):
        raise BadPath("A path is text.")
    if "\0" in path:
        raise BadPath("A path cannot contain a NUL character.")
    if path.startswith("/"):
        raise BadPath(f"Paths are relative to the server's folder: {path!r} is absolute.")
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise BadPath(f"“..” is not allowed in a path: {path!r}.")
    return parts


def _escape(path) -> BadPath:
    return BadPath(f"{path!r} leads outside the server's folder.")


@dataclass
class Spot:
    """Where a path lands: its parent folder (an open descriptor) and its last name.

    `name` None: the server's directory itself. `path` is the canonical relative path
    (symlinks inside followed), the one the protections compare.
    """

    parent: int
    name: str | None
    path: str


class ServerFiles:
    def __init__(self, root: Path, *, max_bytes: int):
        self.root = Path(root)
        self.max_bytes = max_bytes

    # --- resolving ------------------------------------------------------------------

    @contextmanager
    def _spot(self, path: str, *, follow: bool):
        """Resolve `path` to a Spot (closed on exit). `follow`: a final symlink is followed too
        (reading, writing, listing), else it is the spot itself (rename, delete)."""
        todo = parts_of(path)
        try:
            root_fd = os.open(self.root, DIR_FLAGS)
        except FileNotFoundError:
            raise NotFound("The server has no files yet: install it first.") from None
        stack = [root_fd]  # open folders from the server's directory down
        names: list[str] = []
        links = 0
        try:
            while todo:
                name = todo.pop(0)
                if name in ("", "."):
                    continue
                if name == "..":  # only from a symlink's target: climb, never above the root
                    if len(stack) == 1:
                        raise _escape(path)
                    os.close(stack.pop())
                    names.pop()
                    continue
                last = not todo
                if last and not follow:
                    yield Spot(stack[-1], name, "/".join([*names, name]))
                    return
                try:
                    info = os.stat(name, dir_fd=stack[-1], follow_symlinks=False)
                except FileNotFoundError:
                    if last:  # a new file or folder may be made here
                        yield Spot(stack[-1], name, "/".join([*names, name]))
                        return
                    raise NotFound(f"{'/'.join([*names, name])} does not exist.") from None
                if stat.S_ISLNK(info.st_mode):
                    links += 1
                    if links > MAX_LINKS:
                        raise BadPath(f"{path!r} goes through too many symlinks.")
                    target = os.readlink(name, dir_fd=stack[-1])
                    if target.startswith("/"):
                        inside = self._inside(target)
                        if inside is None:
                            raise _escape(path)
                        while len(stack) > 1:  # start again from the server's directory
                            os.close(stack.pop())
                        names.clear()
                        target = inside
                    todo[:0] = [part for part in target.split("/") if part not in ("", ".")]
                    continue
                if last:
                    yield Spot(stack[-1], name, "/".join([*names, name]))
                    return
                try:
                    stack.append(os.open(name, DIR_FLAGS, dir_fd=stack[-1]))
                except NotADirectoryError:
                    raise NotFound(f"{'/'.join([*names, name])} is not a folder.") from None
                except OSError as exc:
                    if exc.errno == errno.ELOOP:  # made a symlink since we looked
                        raise BadPath(f"{path!r} changed while it was being opened; try again.") from None
                    raise
                names.append(name)
            yield Spot(stack[-1], None, "/".join(names))
        finally:
            for fd in stack:
                os.close(fd)

    def _inside(self, target: str) -> str | None:
        """An absolute symlink target as a path relative to the root, or None if it is outside."""
        real_root = os.path.realpath(self.root)
        normal = os.path.normpath(target)
        if normal == real_root:
            return ""
        if normal.startswith(real_root + "/"):
            return normal[len(real_root) + 1 :]
        return None

    # --- reading --------------------------------------------------------------------

    def list_dir(self, path: str = "") -> dict:
        """Every entry of the folder: folders first, then by name."""
        with self._spot(path, follow=True) as spot, self._open_dir(spot) as fd:
            entries = [self._entry(fd, spot.path, entry) for entry in os.scandir(fd)]
        entries.sort(key=lambda e: (e["type"] != "dir", e["name"].casefold(), e["name"]))
        return {"path": spot.path, "entries": entries}

    @contextmanager
    def _open_dir(self, spot: Spot):
        try:
            if spot.name is None:
                fd = os.dup(spot.parent)
            else:
                fd = os.open(spot.name, DIR_FLAGS, dir_fd=spot.parent)
        except FileNotFoundError:
            raise NotFound(f"{spot.path} does not exist.") from None
        except NotADirectoryError:
            raise BadPath(f"{spot.path} is a file, not a folder.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadPath(f"{spot.path} changed while it was being opened; try again.") from None
            raise
        try:
            yield fd
        finally:
            os.close(fd)

    def _entry(self, dir_fd: int, dir_path: str, entry: os.DirEntry) -> dict:
        info = entry.stat(follow_symlinks=False)
        if entry.is_symlink():
            # Shown as what it leads to, when that is inside; one leading out is listed
            # (every entry is) but refused when used.
            try:
                info = self._stat(f"{dir_path}/{entry.name}" if dir_path else entry.name)
            except FileError:
                pass
        is_dir = stat.S_ISDIR(info.st_mode)
        return {
            "name": entry.name,
            "type": "dir" if is_dir else "file",
            "size": None if is_dir else info.st_size,
            "modified": _iso(info.st_mtime),
        }

    def _stat(self, path: str) -> os.stat_result:
        with self._spot(path, follow=True) as spot:
            if spot.name is None:
                return os.fstat(spot.parent)
            try:
                return os.stat(spot.name, dir_fd=spot.parent, follow_symlinks=False)
            except FileNotFoundError:
                raise NotFound(f"{spot.path} does not exist.") from None

    def stat(self, path: str) -> dict:
        info = self._stat(path)
        is_dir = stat.S_ISDIR(info.st_mode)
        return {
            "path": "/".join(parts_of(path)),
            "type": "dir" if is_dir else "file",
            "size": None if is_dir else info.st_size,
            "modified": _iso(info.st_mtime),
        }

    def read(self, path: str) -> tuple[bytes, dict]:
        """The file's bytes and its {"path", "size", "modified", "sha256"}; TooLarge over the limit."""
        with self._spot(path, follow=True) as spot:
            data, info = self._read(spot)
        return data, _described(spot.path, data, info)

    def _read(self, spot: Spot) -> tuple[bytes, os.stat_result]:
        if spot.name is None:
            raise BadPath("The server's folder is a folder, not a file.")
        try:
            fd = os.open(spot.name, READ_FLAGS, dir_fd=spot.parent)
        except FileNotFoundError:
            raise NotFound(f"{spot.path} does not exist.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise BadPath(f"{spot.path} changed while it was being opened; try again.") from None
            raise
        with open(fd, "rb", buffering=0) as file:
            info = os.fstat(fd)
            if stat.S_ISDIR(info.st_mode):
                raise BadPath(f"{spot.path} is a folder, not a file.")
            if not stat.S_ISREG(info.st_mode):  # a FIFO (console.fifo) or a device: never read
                raise BadPath(f"{spot.path} is not a regular file.")
            self._check_size(spot.path, info.st_size)
            data = file.read(self.max_bytes + 1)  # it may have grown since fstat
            self._check_size(spot.path, len(data))
        return data, info

    def _check_size(self, path: str, size: int) -> None:
        if size > self.max_bytes:
            limit = _mib(self.max_bytes)
            raise TooLarge(f"{path} is {_mib(size)}; files of at most {limit} move through the panel.")

    # --- writing --------------------------------------------------------------------

    def write(self, path: str, data: bytes, *, expected_sha256: str | None = None) -> dict:
        """Replace (or make) the file with `data`, atomically; its new description.

        `expected_sha256`: the file as the writer saw it; if it is different on disk now
        (changed or deleted since), Conflict and nothing is written.
        """
        self._check_size("The file", len(data))
        with self._spot(path, follow=True) as spot:
            self._refuse_server_cfg(spot)
            if spot.name is None:
                raise BadPath("Name a file to write.")
            mode = NEW_FILE_MODE
            try:
                current = os.stat(spot.name, dir_fd=spot.parent, follow_symlinks=False)
            except FileNotFoundError:
                current = None
            if current is not None:
                if stat.S_ISDIR(current.st_mode):
                    raise Conflict(f"{spot.path} is a folder.")
                mode = stat.S_IMODE(current.st_mode)
            if expected_sha256 is not None:
                if current is None:
                    raise Conflict(f"{spot.path} was deleted on disk since it was opened.")
                on_disk, _ = self._read(spot)
                if hashlib.sha256(on_disk).hexdigest() != expected_sha256:
                    raise Conflict(f"{spot.path} changed on disk since it was opened.")
            self._replace(spot, data, mode)
            info = os.stat(spot.name, dir_fd=spot.parent, follow_symlinks=False)
        return _described(spot.path, data, info)

    def _replace(self, spot: Spot, data: bytes, mode: int) -> None:
        temp = f".{spot.name}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temp, TEMP_FLAGS, mode, dir_fd=spot.parent)
        try:
            with open(fd, "wb", buffering=0) as file:
                os.fchmod(fd, mode)  # whatever the umask: as the file it replaces
                view = memoryview(data)
                while view:
                    view = view[file.write(view) :]
                os.fsync(fd)  # the rename must not publish a file whose bytes are not on disk
            os.rename(temp, spot.name, src_dir_fd=spot.parent, dst_dir_fd=spot.parent)
        except BaseException:
            try:
                os.unlink(temp, dir_fd=spot.parent)
            except FileNotFoundError:
                pass
            raise

    def mkdir(self, path: str) -> dict:
        with self._spot(path, follow=False) as spot:
            if spot.name is None:
                raise Conflict("The server's folder exists already.")
            try:
                os.mkdir(spot.name, NEW_DIR_MODE, dir_fd=spot.parent)
            except FileExistsError:
                raise Conflict(f"{spot.path} exists already.") from None
        return self.stat(spot.path)

    def rename(self, source: str, target: str) -> dict:
        """Move `source` (a symlink is moved as the link) to `target`, which must not exist."""
        with self._spot(source, follow=False) as src, self._spot(target, follow=False) as dst:
            if src.name is None or dst.name is None:
                raise BadPath("The server's folder itself cannot be renamed or replaced.")
            self._refuse_server_cfg(src)
            self._refuse_server_cfg(dst)
            self._lstat(src)
            if self._exists(dst):
                raise Conflict(f"{dst.path} exists already.")
            try:
                os.rename(src.name, dst.name, src_dir_fd=src.parent, dst_dir_fd=dst.parent)
            except OSError as exc:
                if exc.errno == errno.EINVAL:  # a folder into itself
                    raise BadPath(f"{src.path} cannot be moved inside itself.") from None
                raise
        return self.stat(dst.path)

    def delete(self, paths: list[str]) -> dict:
        """Delete files and folders (a folder with everything in it; a symlink as the link)."""
        if not isinstance(paths, list) or not paths:
            raise BadPath("Name at least one file or folder to delete.")
        for path in paths:  # every path checked before anything is deleted
            parts_of(path)
        deleted = []
        for path in paths:
            with self._spot(path, follow=False) as spot:
                if spot.name is None:
                    raise BadPath("The server's folder itself cannot be deleted.")
                info = self._lstat(spot)
                if stat.S_ISDIR(info.st_mode):
                    # With dir_fd, rmtree works on descriptors and never follows a symlink.
                    shutil.rmtree(spot.name, dir_fd=spot.parent)
                else:
                    os.unlink(spot.name, dir_fd=spot.parent)
                deleted.append(spot.path)
        return {"deleted": deleted}

    # --- helpers --------------------------------------------------------------------

    def _lstat(self, spot: Spot) -> os.stat_result:
        try:
            return os.stat(spot.name, dir_fd=spot.parent, follow_symlinks=False)
        except FileNotFoundError:
            raise NotFound(f"{spot.path} does not exist.") from None

    def _exists(self, spot: Spot) -> bool:
        try:
            os.stat(spot.name, dir_fd=spot.parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    @staticmethod
    def _refuse_server_cfg(spot: Spot) -> None:
        if spot.path == SERVER_CFG:
            raise Conflict(SERVER_CFG_CONFLICT)


OPERATIONS = ("list", "read", "write", "rename", "mkdir", "delete")


def perform(files: ServerFiles, op: str, args: dict, payload: bytes | None) -> tuple[dict, bytes | None]:
    """Run one relayed request: (result, bytes or None). FileError for anything refused or failed."""
    try:
        if op == "list":
            return files.list_dir(args.get("path", "")), None
        if op == "read":
            data, described = files.read(args["path"])
            return described, data
        if op == "write":
            expected = args.get("expected_sha256")
            return files.write(args["path"], payload or b"", expected_sha256=expected), None
        if op == "rename":
            return files.rename(args["from"], args["to"]), None
        if op == "mkdir":
            return files.mkdir(args["path"]), None
        if op == "delete":
            return files.delete(args["paths"]), None
    except FileError:
        raise
    except OSError as exc:  # no space left, no permission...: said as the host says it
        raise FileError(f"The game host could not do it: {exc.strerror or exc}.") from None
    raise BadPath(f"{op!r} is not a file operation.")


def _described(path: str, data: bytes, info: os.stat_result) -> dict:
    return {
        "path": path,
        "size": len(data),
        "modified": _iso(info.st_mtime),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _mib(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MiB"
