"""Stand-in for steamcmd installing the L4D2 dedicated server (app 222860).

Prints what real steamcmd prints (see the reference doc), spreads progress over
HOSTCTL_SIM_SECONDS and lays out a fake install whose srcds_run starts the srcds
simulator. Stdlib only: it runs as a plain script.

Test hooks: HOSTCTL_SIM_FAIL=disk ends with the 0x202 (disk full) error and
exit code 0, as real steamcmd sometimes does; HOSTCTL_SIM_FAIL=platform fails
with "Invalid platform" unless a platform type is forced, like Valve's servers
since 2024-11.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from pathlib import Path

APP_ID = "222860"
SRCDS_SIM = Path(__file__).resolve().with_name("srcds.py")
TOTAL_BYTES = 738158916


def parse_commands(argv: list[str]) -> list[list[str]]:
    """Split `+cmd arg ... +cmd arg ...` into [[cmd, arg, ...], ...]."""
    commands: list[list[str]] = []
    for arg in argv:
        if arg.startswith("+"):
            commands.append([arg[1:]])
        elif commands:
            commands[-1].append(arg)
    return commands


def say(line: str) -> None:
    print(line, flush=True)


def banner() -> None:
    say(f"Redirecting stderr to '{Path.home()}/Steam/logs/stderr.txt'")
    say("[  0%] Checking for available updates...")
    say("[----] Verifying installation...")
    say("Steam Console Client (c) Valve Corporation - version 1705108307")
    say("-- type 'quit' to exit --")
    say("Loading Steam API...OK")


def download(seconds: float, validate: bool) -> None:
    say(" Update state (0x3) reconfiguring, progress: 0.00 (0 / 0)")
    steps = max(1, int(seconds * 4))
    for step in range(1, steps + 1):
        time.sleep(seconds / steps)
        done = TOTAL_BYTES * step // steps
        say(
            f" Update state (0x61) downloading, progress: {100 * done / TOTAL_BYTES:.2f} "
            f"({done} / {TOTAL_BYTES})"
        )
    if validate:
        say(f" Update state (0x81) verifying update, progress: 100.00 ({TOTAL_BYTES} / {TOTAL_BYTES})")


def lay_out(install_dir: Path, platform: str) -> None:
    (install_dir / "left4dead2" / "cfg").mkdir(parents=True, exist_ok=True)
    (install_dir / "left4dead2" / "gameinfo.txt").write_text('"GameInfo" { game "Left 4 Dead 2" }\n')
    (install_dir / "steam_appid.txt").write_text("550\n")
    if platform == "windows":
        (install_dir / "srcds.exe").write_bytes(b"MZ simulated\n")
        return
    srcds_run = install_dir / "srcds_run"
    srcds_run.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} {shlex.quote(str(SRCDS_SIM))} "$@"\n'
    )
    srcds_run.chmod(0o755)


def main(argv: list[str]) -> int:
    install_dir = None
    platform = None
    banner()
    for command, *args in parse_commands(argv):
        if command == "@sSteamCmdForcePlatformType" and args:
            platform = args[0]
        elif command == "force_install_dir" and args:
            install_dir = Path(args[0]).resolve()
        elif command == "login":
            user = args[0] if args else "anonymous"
            say(f"Logging in user '{user}' to Steam Public...OK")
            say("Waiting for client config...OK")
            say("Waiting for user info...OK")
        elif command == "app_update" and args:
            if args[0] != APP_ID or install_dir is None:
                say(f"ERROR! Failed to install app '{args[0]}' (No subscription)")
                return 8
            fail = os.environ.get("HOSTCTL_SIM_FAIL", "")
            if fail == "platform" and platform is None:
                say(f"ERROR! Failed to install app '{APP_ID}' (Invalid platform)")
                return 8
            seconds = float(os.environ.get("HOSTCTL_SIM_SECONDS", 20))
            if fail == "disk":
                download(seconds / 2, validate=False)
                say(f"Error! App '{APP_ID}' state is 0x202 after update job.")
                return 0
            download(seconds, validate="validate" in args[1:])
            lay_out(install_dir, platform or "linux")
            say(f"Success! App '{APP_ID}' fully installed.")
        elif command == "quit":
            break
    say("Unloading Steam API...OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
