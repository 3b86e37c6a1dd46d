"""Game builds of app 222860: the installed one (appmanifest), the latest one (steamcmd app info),
and srcds's own notice that a newer one is out.

- installed: `buildid` of `<install dir>/steamapps/appmanifest_222860.acf` (Valve KeyValues)
- latest: `steamcmd +login anonymous +app_info_update 1 +app_info_print 222860 +quit`, the
  public branch's `buildid`. steamcmd answers from its app-info cache when it can, however
  stale, so the cache is deleted first.
- a running srcds prints UPDATE_NOTICE when Steam tells it about a newer build;
  `NoticeScanner` finds it in console.log, reading only what was appended since last time.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import vdf

from hostctl import steamcmd
from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.process import CancelToken, run_command

APP_ID = steamcmd.APP_ID
UPDATE_NOTICE = "Your server needs to be restarted in order to receive the latest update."
APP_INFO_TIMEOUT = 180.0  # seconds; a steamcmd that self-updates first takes a while
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_BLOCK_START = re.compile(rf'"{APP_ID}"\s*\{{')
_NOTICE = UPDATE_NOTICE.encode()
_SCAN_LIMIT = 1 << 20  # bytes read per scan of one console.log; the rest waits for the next


def manifest_path(install_dir: Path) -> Path:
    return Path(install_dir) / "steamapps" / f"appmanifest_{APP_ID}.acf"


def installed_build(install_dir: Path) -> str | None:
    """The buildid in the install's appmanifest, or None (not installed, or unreadable)."""
    try:
        text = manifest_path(install_dir).read_text(encoding="utf-8", errors="replace")
        build = vdf.loads(text)["AppState"]["buildid"]
    except (OSError, SyntaxError, KeyError, TypeError):
        return None
    return build if isinstance(build, str) and build.isdigit() else None


def parse_app_info(output: str) -> dict | None:
    """The KeyValues block of app 222860 in steamcmd's output, parsed; None if there is none.

    Around the block steamcmd prints its banner, an `AppID : 222860, change number : ...`
    header and `Unloading Steam API...OK`, sometimes with ANSI colour codes: the block is
    found by its opening `"222860" {` and cut at its matching brace (braces inside quoted
    strings do not count), so nothing around it reaches the parser.
    """
    text = _ANSI.sub("", output)
    match = _BLOCK_START.search(text)
    if match is None:
        return None
    depth, quoted, escaped = 0, False, False
    for end in range(match.end() - 1, len(text)):
        ch = text[end]
        if escaped:
            escaped = False
        elif quoted and ch == "\\":
            escaped = True
        elif ch == '"':
            quoted = not quoted
        elif not quoted and ch in "{}":
            depth += 1 if ch == "{" else -1
            if depth == 0:
                try:
                    return vdf.loads(text[match.start() : end + 1])[APP_ID]
                except (SyntaxError, KeyError):
                    return None
    return None


def public_build(info: dict) -> str | None:
    """`depots > branches > public > buildid` of a parsed app info block."""
    try:
        build = info["depots"]["branches"]["public"]["buildid"]
    except (KeyError, TypeError):
        return None
    return build if isinstance(build, str) and build.isdigit() else None


def appinfo_caches(config: HostConfig) -> list[Path]:
    """Where steamcmd may keep its app-info cache: next to a tarball install, or in the
    homes the Debian package and LinuxGSM use. The simulator's is ~/Steam only, so a
    test run on a desktop never touches the Steam client's own cache."""
    home = Path.home()
    if config.simulate:
        return [home / "Steam" / "appcache" / "appinfo.vdf"]
    homes = [home / "Steam", home / ".steam" / "steamcmd", home / ".steam" / "steam"]
    if found := config.steamcmd and shutil.which(config.steamcmd):
        homes.insert(0, Path(found).resolve().parent)
    return [path / "appcache" / "appinfo.vdf" for path in homes]


def latest_build(
    config: HostConfig, *, cancel: CancelToken | None = None, timeout: float = APP_INFO_TIMEOUT
) -> str:
    """The public branch's buildid as Steam has it now; HostError (with the reason) if steamcmd
    does not say. `cancel` stops steamcmd (a worker shutting down does not wait for it)."""
    for cache in appinfo_caches(config):
        try:
            cache.unlink(missing_ok=True)
        except OSError as exc:
            raise HostError(f"Could not delete steamcmd's app-info cache {cache}: {exc.strerror}") from None
    argv = steamcmd.executable(config)
    argv += ["+login", "anonymous", "+app_info_update", "1", "+app_info_print", APP_ID, "+quit"]
    output: list[str] = []
    result = run_command(
        argv, on_line=lambda stream, text: output.append(text), cancel=cancel, timeout=timeout
    )
    info = parse_app_info("\n".join(output))
    build = public_build(info) if info else None
    if build is None:
        last = next((line.strip() for line in reversed(output) if line.strip()), "nothing")
        why = f"timed out after {timeout:g}s" if result.timed_out else f"exit code {int(result)}"
        why = "stopped on request" if result.cancelled else why
        raise HostError(f"steamcmd printed no build id for app {APP_ID} ({why}; last line: {last[:200]})")
    return build


class NoticeScanner:
    """Finds UPDATE_NOTICE in servers' console.log files, each read only once.

    A file is first read from its end: what it held before this scanner looked is
    old news (and the periodic check covers it). A file replaced or truncated since
    (another inode, or shorter than where we were) is read again from its start.
    """

    def __init__(self) -> None:
        self.positions: dict[Path, tuple[int, int]] = {}

    def seen(self, log: Path) -> bool:
        """Whether `log` gained a line with the notice since the last call."""
        try:
            info = log.stat()
        except OSError:
            self.positions.pop(log, None)
            return False
        known = self.positions.get(log)
        if known is None:
            self.positions[log] = (info.st_ino, info.st_size)
            return False
        inode, offset = known
        if inode != info.st_ino or info.st_size < offset:
            offset = 0
        try:
            with open(log, "rb") as file:
                file.seek(offset)
                data = file.read(_SCAN_LIMIT)
        except OSError:
            return False
        # Only whole lines count: a notice cut in two by a write is found on the next call.
        complete = data[: data.rfind(b"\n") + 1] if len(data) < _SCAN_LIMIT else data
        self.positions[log] = (info.st_ino, offset + len(complete))
        return _NOTICE in complete
