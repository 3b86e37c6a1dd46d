"""Workshop add-ons of one server: download, install as `left4dead2/addons/<id>.vpk`, remove.

An item comes from its `file_url` when the Steam Web API gives one (most L4D2 add-ons are
single legacy files), else from steamcmd `+workshop_download_item 550 <id>`, which leaves
`steamapps/workshop/content/550/<id>/<name>_legacy.bin` under its install dir. Either way
the file is written beside its place under a temporary name, checked to be a VPK, and
renamed into place: the game never sees a partial add-on, not on a failure, not on a cancel.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from hostctl import campaigns, modes, steam_api, steamcmd
from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.process import PHASE, PROGRESS, CancelToken, LineSink, run_command, shown_command
from hostctl.spec import ServerSpec

CHUNK = 256 * 1024
MAX_BYTES = 4 * 1024**3  # bigger than any L4D2 campaign; a host sending more is not sending one
MAX_REDIRECTS = 5
PART_PREFIX = ".workshop-"  # temporary files beside the add-ons; the game only loads *.vpk
STAGING = "workshop-download"  # steamcmd's force_install_dir, inside the server's directory

# steamcmd's own lines (docs/reference/workshop.md). Run with +commands it prints them on
# the "Downloading item <id> ..." line itself, so they are searched for, not matched.
_SUCCESS = re.compile(r'Success\. Downloaded item (\d+) to "([^"]*)" \((\d+) bytes\)')
_FAILED = re.compile(r"ERROR! Download item (\d+) failed \(([^)]*)\)")
_TIMEOUT = re.compile(r"ERROR! Timeout downloading item (\d+)")
FAILURE_WORDS = {
    "Access Denied": "the item is private, or not downloadable anonymously",
    "File Not Found": "there is no such item (deleted?)",
    "Timeout": "Steam timed out; try again later",
    "No Connection": "steamcmd could not reach Steam",
    "Failure": "steamcmd failed; deleting its appcache folder often cures this",
}


class Cancelled(Exception):
    """A cancel arrived while an item was being fetched."""


@dataclass(frozen=True)
class Outcome:
    """What became of one item, for the caller's records (the panel's WorkshopItem rows)."""

    id: str
    item: steam_api.Item | None = None
    contents: campaigns.Contents | None = None
    error: str = ""
    removed: bool = False
    unchanged: bool = False


OnItem = Callable[[Outcome], None]


def addons_dir(install_dir: Path) -> Path:
    """`left4dead2/addons` of the server, made if missing; HostError if it leads elsewhere.

    Checked at each use: an owner's file manager could have put a symlink there since.
    """
    game = install_dir / "left4dead2"
    if not game.is_dir():
        raise HostError(f"{game} is missing: install the server first")
    return _folder(install_dir, "left4dead2/addons")


def _folder(install_dir: Path, relative: str) -> Path:
    """`install_dir/relative`, made if missing; HostError if any part of it is a symlink
    (checked before anything is made or written there, and again after)."""
    folder = install_dir / relative
    above = [install_dir / part for part in Path(relative).parents if part != Path(".")]
    if any(part.is_symlink() for part in [folder, *above]):
        raise HostError(f"{relative} leads outside the server's directory; it was left alone")
    modes.make_dirs(folder)
    if not folder.resolve().is_relative_to(install_dir.resolve()):
        raise HostError(f"{relative} leads outside the server's directory; it was left alone")
    return folder


def vpk_path(install_dir: Path, item: str) -> Path:
    if not item.isdigit():
        raise HostError(f"{item!r} is not a Workshop item id")
    return addons_dir(install_dir) / f"{int(item)}.vpk"


def installed(install_dir: Path) -> dict[str, campaigns.Contents | None]:
    """{id: contents} of every `<id>.vpk` in the addons folder (None: not a readable VPK)."""
    found = {}
    for path in sorted(addons_dir(install_dir).glob("*.vpk")):
        if path.stem.isdigit() and path.is_file() and not path.is_symlink():
            try:
                found[path.stem] = campaigns.read(path)
            except campaigns.NotAVpk:
                found[path.stem] = None
    return found


# --- the job ---------------------------------------------------------------------------


def run(
    spec: ServerSpec,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    config: HostConfig,
    params: dict,
    on_item: OnItem | None = None,
) -> int:
    """One Workshop job. `params`: {"action": "add"|"update"|"remove", "items": [ids],
    "collection": id or None, "known": {id: time_updated}} ("known": items whose Steam
    update time is still this are left as they are by "update"). Returns the exit code:
    1 if any item failed, each failure said in its own line."""
    on_item = on_item or (lambda outcome: None)
    action = params.get("action", "add")
    ids = [i for i in map(steam_api.item_id, params.get("items") or []) if i]
    if action == "remove":
        return _remove(spec.install_dir, ids, sink, on_item)
    if action not in ("add", "update"):
        raise HostError(f"Unknown Workshop action {action!r}")
    addons = addons_dir(spec.install_dir)
    _clear_leftovers(addons)
    if collection := steam_api.item_id(params.get("collection") or ""):
        sink("system", f"Asking Steam which items collection {collection} holds")
        members = steam_api.collection(config.steam_api_url, collection, timeout=config.steam_api_timeout)
        sink("system", f"Collection {collection} holds {len(members)} items: {', '.join(members)}")
        ids += [i for i in members if i not in ids]
    if not ids:
        raise HostError("No Workshop items to install")
    sink("system", f"Asking Steam about {len(ids)} item(s)")
    described = steam_api.items(config.steam_api_url, ids, timeout=config.steam_api_timeout)
    known = {str(k): int(v) for k, v in (params.get("known") or {}).items()}
    progress = _Progress(sink, len(ids))
    failed = []
    for number, item_id in enumerate(ids):
        item = described[item_id]
        progress.at(number)
        sink(PHASE, f"Item {item_id}: {item.title}" if item.title else f"Item {item_id}")
        if cancel is not None and cancel.cancelled:
            sink("system", f"Cancel requested: item {item_id} and the ones after it were not installed.")
            return 1
        if item.error:
            sink("stderr", f"Item {item_id} cannot be installed: {item.error}.")
            failed.append(item_id)
            on_item(Outcome(item_id, item=item, error=item.error))
            continue
        target = addons / f"{item_id}.vpk"
        if action == "update" and known.get(item_id) == item.time_updated and target.is_file():
            sink("system", f"{item.title}: unchanged on Steam since it was installed; left as it is.")
            on_item(Outcome(item_id, item=item, unchanged=True))
            continue
        try:
            share = progress.part(number)
            contents = _fetch_item(spec.install_dir, addons, item, sink, cancel, config, share)
        except Cancelled:
            sink("system", f"Cancel requested: {item.title} was not installed (no partial file was left).")
            return 1
        except HostError as exc:
            sink("stderr", f"Item {item_id} ({item.title}) was not installed: {exc}")
            failed.append(item_id)
            on_item(Outcome(item_id, item=item, error=str(exc)))
            continue
        sink("system", f"Installed {item.title} as {target.name}: {_describe(contents)}")
        on_item(Outcome(item_id, item=item, contents=contents))
    progress.at(len(ids))
    if failed:
        sink("system", f"{len(failed)} of {len(ids)} item(s) failed: {', '.join(failed)}")
        return 1
    return 0


def _describe(contents: campaigns.Contents) -> str:
    if contents.campaigns:
        return "; ".join(f"{c.title} ({', '.join(c.maps)})" for c in contents.campaigns)
    return f"maps {', '.join(contents.maps)}" if contents.maps else "no maps (not a campaign)"


def _remove(install_dir: Path, ids: list[str], sink: LineSink, on_item: OnItem) -> int:
    if not ids:
        raise HostError("No Workshop items to remove")
    for item_id in ids:
        path = vpk_path(install_dir, item_id)
        if path.is_symlink() or path.is_file():
            path.unlink()
            sink("system", f"Removed {path.name}")
        else:
            sink("system", f"{path.name} was not there; nothing to remove")
        on_item(Outcome(item_id, removed=True))
    return 0


def _clear_leftovers(addons: Path) -> None:
    """Temporary files of a run whose worker was killed (a cancel removes its own)."""
    for path in addons.glob(f"{PART_PREFIX}*"):
        path.unlink(missing_ok=True)


def _fetch_item(install_dir, addons, item, sink, cancel, config, progress) -> campaigns.Contents:
    """Download `item` and put it in place as `<id>.vpk`; its contents. HostError or Cancelled."""
    fd, name = tempfile.mkstemp(prefix=f"{PART_PREFIX}{item.id}-", suffix=".part", dir=addons)
    part = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            if item.file_url:
                sink("system", f"Downloading {item.title} ({_size(item.size)}) from its Workshop file")
                _download(item.file_url, out, cancel, config.steam_api_timeout, item.size, progress)
            else:
                sink("system", f"Steam gives no file for {item.title}: downloading it with steamcmd")
                _steamcmd_download(install_dir, item.id, out, sink, cancel, config)
            out.flush()
            os.fsync(out.fileno())
        modes.tighten_file(part)
        contents = campaigns.read(part)
        part.replace(addons / f"{item.id}.vpk")
        return contents
    finally:
        part.unlink(missing_ok=True)


def _size(size: int) -> str:
    if not size:
        return "size unknown"
    return f"{size / 1024**2:.1f} MB" if size >= 1024**2 else f"{max(1, size // 1024)} KB"


# --- from file_url ---------------------------------------------------------------------


def _download(url, out, cancel, timeout, expected, progress) -> None:
    """GET `url` (following redirects) into `out`. A cancel hangs up the connection at once."""
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HostError("the item's download address is not a web address")
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname, parts.port, timeout=timeout)
        undo = cancel.on_cancel(lambda conn=conn: _hang_up(conn)) if cancel is not None else None
        try:
            if cancel is not None and cancel.cancelled:
                raise Cancelled
            path = parts.path or "/"
            conn.request("GET", f"{path}?{parts.query}" if parts.query else path)
            answer = conn.getresponse()
            if answer.status in (301, 302, 303, 307, 308) and answer.getheader("Location"):
                url = urljoin(url, answer.getheader("Location"))
                continue
            if answer.status != 200:
                raise HostError(f"the download host answered HTTP {answer.status}")
            _copy(answer, out, cancel, expected, progress)
            return
        except (OSError, http.client.HTTPException) as exc:
            if cancel is not None and cancel.cancelled:
                raise Cancelled from None
            raise HostError(f"the download broke off ({type(exc).__name__}: {exc})") from None
        finally:
            if undo is not None:
                undo()
            conn.close()
    raise HostError("the download host redirected too many times")


def _copy(answer, out, cancel, expected, progress) -> None:
    total = int(answer.getheader("Content-Length") or 0) or expected
    if total > MAX_BYTES:
        raise HostError(f"the file is {_size(total)}, more than any add-on")
    done = 0
    while chunk := answer.read(CHUNK):
        out.write(chunk)
        done += len(chunk)
        if done > MAX_BYTES:
            raise HostError("the file is bigger than any add-on")
        if total:
            progress(min(done / total, 1.0))
    if cancel is not None and cancel.cancelled:
        raise Cancelled
    if total and done < total:
        raise HostError(f"the download ended early ({done} of {total} bytes)")


def _hang_up(conn: http.client.HTTPConnection) -> None:
    """From the cancelling thread: a blocked read returns at once."""
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


# --- with steamcmd ---------------------------------------------------------------------


@dataclass
class DownloadJudge:
    """Reads steamcmd's lines about one `workshop_download_item`."""

    item: str
    downloaded: bool = False
    reasons: list[str] = field(default_factory=list)

    def feed(self, line: str) -> str | None:
        """Note one line; the failure it reports, in words, or None."""
        if (found := _SUCCESS.search(line)) and found.group(1) == self.item:
            self.downloaded = True
            return None
        reason = None
        if (found := _FAILED.search(line)) and found.group(1) == self.item:
            why = found.group(2)
            reason = f"steamcmd: {why}" + (f" ({FAILURE_WORDS[why]})" if why in FAILURE_WORDS else "")
        elif (found := _TIMEOUT.search(line)) and found.group(1) == self.item:
            reason = f"steamcmd timed out downloading it ({FAILURE_WORDS['Timeout']})"
        if reason:
            self.reasons.append(reason)
        return reason


def steamcmd_argv(staging: Path, item: str, config: HostConfig) -> list[str]:
    return steamcmd.executable(config) + [
        *("+force_install_dir", str(staging), "+login", "anonymous"),
        *("+workshop_download_item", str(steam_api.APP_ID), item, "+quit"),
    ]


def _steamcmd_download(install_dir, item, out, sink, cancel, config) -> None:
    staging = _folder(install_dir, STAGING)
    folder = staging / "steamapps" / "workshop" / "content" / str(steam_api.APP_ID) / item
    shutil.rmtree(folder, ignore_errors=True)  # an earlier run's copy must not pass for this one
    argv = steamcmd_argv(staging, item, config)
    sink("system", f"$ {shown_command(argv, staging)}")
    judge = DownloadJudge(item)

    def on_line(stream: str, text: str) -> None:
        sink(stream, text)
        if stream != "system" and (reason := judge.feed(text)):
            sink("system", reason)

    env = dict(os.environ, HOSTCTL_SIM_SECONDS=str(config.sim_seconds)) if config.simulate else None
    try:
        result = run_command(
            argv, on_line=on_line, cancel=cancel, cwd=staging, env=env, grace=config.stop_grace
        )
        if result.cancelled:
            raise Cancelled
        if judge.reasons:
            raise HostError(judge.reasons[0])
        if not judge.downloaded:
            raise HostError(f"steamcmd exited (code {int(result)}) without saying it downloaded the item")
        legacy = [p for p in folder.glob("*_legacy.bin") if p.is_file() and not p.is_symlink()]
        if len(legacy) != 1:
            raise HostError(f"steamcmd left {len(legacy)} *_legacy.bin files instead of one")
        with legacy[0].open("rb") as source:
            shutil.copyfileobj(source, out, CHUNK)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class _Progress:
    """Each item an equal share of the bar; sent only when it grows."""

    def __init__(self, sink: LineSink, count: int) -> None:
        self.sink, self.count, self.last = sink, count, -1

    def at(self, done: float) -> None:
        percent = int(done * 100 / self.count)
        if percent > self.last:
            self.last = percent
            self.sink(PROGRESS, str(percent))

    def part(self, number: int) -> Callable[[float], None]:
        return lambda fraction: self.at(number + fraction)
