"""steamcmd for app 222860: its command lines, running them, and the judging of their output.

steamcmd sometimes exits 0 after a failed update, so success is decided from
the lines it prints: the `Success!` line must appear and no error line may.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

from hostctl import modes
from hostctl.config import HostConfig
from hostctl.errors import HostError
from hostctl.process import PHASE, PROGRESS, CancelToken, LineSink, run_command, shown_command

APP_ID = "222860"
SIMULATOR = Path(__file__).resolve().parent / "sim" / "steamcmd.py"
# Either means the files are as they should be ("already up to date": nothing to download).
SUCCESS_LINES = (f"Success! App '{APP_ID}' fully installed.", f"Success! App '{APP_ID}' already up to date.")

# Failure states LinuxGSM looks for, with what they usually mean.
STATE_REASONS = {
    "0x202": "not enough disk space",
    "0x212": "not enough disk space",
    "0x402": "update error, often a network problem",
    "0x602": "update error, often a network problem",
    "0x606": "update error",
    "0x626": "update error",
    "0x6a6": "update error",
}
_STATE = re.compile(r"\b0x[0-9a-fA-F]+\b")
_PROGRESS = re.compile(r"^ Update state \(0x[0-9a-fA-F]+\) [a-z ]+, progress: (\d+(?:\.\d+)?) \(")
PLATFORM_ADVICE = (
    "Steam refused the anonymous Linux download of app 222860 ('Invalid platform'). "
    "Set HOSTCTL_PLATFORM_WORKAROUND=1 to install in two passes (windows, then linux)."
)
PLATFORM_STILL_FAILING = (
    "Steam refused the download of app 222860 ('Invalid platform') even with the "
    "two-pass platform workaround; see ValveSoftware/steam-for-linux#11522."
)


def executable(config: HostConfig) -> list[str]:
    """The program part of a steamcmd argv; HostError if it cannot be found."""
    if config.simulate:
        return [sys.executable, str(SIMULATOR)]
    found = config.steamcmd and shutil.which(config.steamcmd)
    if not found:
        raise HostError("steamcmd was not found where HOSTCTL_STEAMCMD points; ask the host's staff")
    return [found]


def passes(install_dir: Path, *, validate: bool, config: HostConfig) -> list[list[str]]:
    """One argv per steamcmd run an install or update needs.

    With the platform workaround, a windows pass comes first: Valve refuses
    anonymous Linux-only downloads of 222860 since 2024-11, and the following
    linux pass then only fetches the Linux binaries.
    """
    program = executable(config)
    update = ["+force_install_dir", str(install_dir), "+login", "anonymous", "+app_update", APP_ID]
    update += ["validate"] if validate else []
    update += ["+quit"]
    if not config.platform_workaround:
        return [program + update]
    return [
        program + ["+@sSteamCmdForcePlatformType", platform] + update for platform in ("windows", "linux")
    ]


@dataclass
class OutputJudge:
    """Reads steamcmd lines and decides whether the run really succeeded."""

    platform_workaround: bool
    succeeded: bool = False
    reasons: list[str] = field(default_factory=list)

    def feed(self, line: str) -> str | None:
        """Note one line; returns an explanation if the line reports a failure."""
        text = line.strip()
        if text in SUCCESS_LINES:
            self.succeeded = True
            return None
        reason = None
        if "(Invalid platform)" in text:
            reason = PLATFORM_STILL_FAILING if self.platform_workaround else PLATFORM_ADVICE
        elif text.startswith(("ERROR!", "Error!")):
            reason = f"steamcmd reported an error: {text}"
        states = [s.lower() for s in _STATE.findall(text) if s.lower() in STATE_REASONS]
        if states:
            reason = f"steamcmd reported state {states[0]}: {STATE_REASONS[states[0]]}"
        if reason:
            self.reasons.append(reason)
        return reason

    def exit_code(self, code: int) -> int:
        """The code to report: steamcmd's own, or 1 if it exited 0 but failed."""
        if code != 0:
            return code
        return 0 if self.succeeded and not self.reasons else 1


def run(
    install_dir: Path,
    sink: LineSink,
    cancel: CancelToken | None,
    *,
    validate: bool,
    config: HostConfig,
    phases: bool = True,
) -> int:
    """Install (`validate`) or update into `install_dir`: every pass, each judged; returns the exit code.

    `phases`: each pass opens a "Download" phase; off when the caller's own phase holds the passes.
    """
    argvs = passes(install_dir, validate=validate, config=config)
    modes.make_dirs(install_dir)  # 0750: other local accounts see nothing of the server
    env = dict(os.environ, HOSTCTL_SIM_SECONDS=str(config.sim_seconds)) if config.simulate else None
    verb = "Installing" if validate else "Updating"
    progress = _Progress(sink, total=len(argvs))
    for number, argv in enumerate(argvs, 1):
        progress.done = number - 1
        platform = argv[argv.index("+@sSteamCmdForcePlatformType") + 1] if len(argvs) > 1 else None
        if phases:
            sink(PHASE, f"Download ({platform.capitalize()} platform)" if platform else "Download")
        sink("system", f"{verb} server files in {install_dir} (steamcmd run {number} of {len(argvs)})")
        sink("system", f"$ {shown_command(argv, install_dir)}")
        judge = OutputJudge(platform_workaround=config.platform_workaround)

        def on_line(stream: str, text: str, judge=judge) -> None:
            sink(stream, text)
            if stream == "system":
                return
            if reason := judge.feed(text):
                sink("system", reason)
            progress.feed(text)

        result = run_command(
            argv, on_line=on_line, cancel=cancel, cwd=install_dir, env=env, grace=config.stop_grace
        )
        if result.cancelled:
            sink("system", f"steamcmd stopped on request (exit code {int(result)})")
            return int(result)
        code = judge.exit_code(result)
        if code:
            if result == 0 and not judge.reasons:
                sink("system", "steamcmd exited without reporting success")
            sink("system", f"{verb} failed (exit code {code})")
            return code
    progress.report(100)
    sink("system", f"{verb} finished: server files are ready")
    return 0


class _Progress:
    """steamcmd's per-run progress lines as one whole-operation percent, sent when it grows."""

    def __init__(self, sink: LineSink, *, total: int) -> None:
        self.sink, self.total = sink, total
        self.done = 0  # runs already finished
        self.last: int | None = None

    def feed(self, text: str) -> None:
        if match := _PROGRESS.match(text):
            self.report(int((self.done + min(100.0, float(match.group(1))) / 100) * 100 / self.total))

    def report(self, percent: int) -> None:
        # Verifying after downloading starts its own count from 0: the bar never goes back.
        if self.last is None or percent > self.last:
            self.last = percent
            self.sink(PROGRESS, str(percent))
