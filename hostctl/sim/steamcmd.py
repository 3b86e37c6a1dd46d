"""Stand-in for steamcmd installing the L4D2 dedicated server (app 222860).

Prints what real steamcmd prints (see the reference doc), spreads progress over
HOSTCTL_SIM_SECONDS and lays out a fake install whose srcds_run starts the srcds
simulator, with the appmanifest (steamapps/appmanifest_222860.acf) a real install
has. `+app_info_print 222860` prints the app info block as real steamcmd does.
Stdlib only: it runs as a plain script.

The latest build (public branch buildid) comes from steaminfo.py: the file named
by HOSTCTL_SIM_LATEST_BUILD_FILE, else HOSTCTL_SIM_LATEST_BUILD, else 9876543.
Like real steamcmd it caches app info in $HOME/Steam/appcache/appinfo.vdf:
`app_info_print` without `+app_info_update 1` in the same run answers from that
cache if it exists, however stale; delete the file to get the latest.

Test hooks: HOSTCTL_SIM_FAIL=disk ends with the 0x202 (disk full) error and
exit code 0, as real steamcmd sometimes does; HOSTCTL_SIM_FAIL=platform fails
with "Invalid platform" unless a platform type is forced, like Valve's servers
since 2024-11.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import struct
import sys
import time
from pathlib import Path

if __package__:
    from . import steaminfo
else:  # run as a script: this file's folder is sys.path[0]
    import steaminfo

APP_ID = steaminfo.APP_ID
NAME = "Left 4 Dead 2 Dedicated Server"
# Depots of 222860: content for every platform, then the Windows and the Linux binaries.
DEPOTS = {"222861": ("", 9611296911), "222862": ("windows", 34705746), "222863": ("linux", 38158916)}
CACHE_MAGIC = b"\x29\x44\x56\x07"  # appinfo.vdf's, so the file looks like the real one
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


def steam_home() -> Path:
    return Path.home() / "Steam"


def banner() -> None:
    say(f"Redirecting stderr to '{steam_home()}/logs/stderr.txt'")
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


def kv(key: str, value, depth: int) -> str:
    """One Valve KeyValues line, tab-indented and tab-separated like Steam's."""
    return "\t" * depth + f'"{key}"\t\t"{value}"\n'


def block(key: str, body: str, depth: int) -> str:
    tabs = "\t" * depth
    return f'{tabs}"{key}"\n{tabs}{{\n{body}{tabs}}}\n'


def latest() -> tuple[int, int]:
    """(buildid, timeupdated) of the public branch as Steam has it now."""
    build = steaminfo.latest_build()
    path = os.environ.get("HOSTCTL_SIM_LATEST_BUILD_FILE")
    try:
        updated = int(Path(path).stat().st_mtime) if path else 0
    except OSError:
        updated = 0
    return build, updated or 1732579200  # 2024-11-26, when the 'Invalid platform' era began


def app_info(update: bool) -> tuple[int, int]:
    """The app info steamcmd would print: the cached copy unless asked to update."""
    cache = steam_home() / "appcache" / "appinfo.vdf"
    if not update:
        try:
            data = cache.read_bytes()
            if data[:4] == CACHE_MAGIC:
                return struct.unpack_from("<II", data, 4)
        except (OSError, struct.error):
            pass
    build, updated = latest()
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(CACHE_MAGIC + struct.pack("<II", build, updated))
    return build, updated


def print_app_info(update: bool) -> None:
    build, updated = app_info(update)
    common = "".join(
        kv(k, v, 2)
        for k, v in [("name", NAME), ("type", "Tool"), ("oslist", "windows,linux"), ("gameid", APP_ID)]
    )
    depots = kv("baselanguages", "english", 2)
    for depot, (oslist, size) in DEPOTS.items():
        config = block("config", kv("oslist", oslist, 4), 3) if oslist else ""
        manifest = block("public", kv("gid", manifest_gid(depot, build), 5) + kv("size", size, 5), 4)
        depots += block(depot, config + block("manifests", manifest, 3), 2)
    public = block("public", kv("buildid", build, 4) + kv("timeupdated", updated, 4), 3)
    depots += block("branches", public, 2)
    body = block("common", common, 1) + block("config", kv("installdir", NAME, 2), 1)
    body += block("depots", depots, 1)
    last_change = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(updated))
    # The header line ends with a space in real transcripts.
    say(f"AppID : {APP_ID}, change number : {build * 3 % 10**8}/0, last change : {last_change} ")
    print(block(APP_ID, body, 0), end="", flush=True)


def manifest_gid(depot: str, build: int) -> int:
    """A stable 63-bit manifest id for this depot at this build (real ones look alike)."""
    return int.from_bytes(hashlib.sha1(f"{depot}:{build}".encode()).digest()[:8], "big") >> 1


def write_manifest(install_dir: Path, platform: str) -> None:
    """steamapps/appmanifest_222860.acf as steamcmd leaves it after a successful update."""
    build = steaminfo.latest_build()
    installed = {d: size for d, (oslist, size) in DEPOTS.items() if oslist in ("", platform)}
    total = sum(installed.values())
    depots = "".join(
        block(d, kv("manifest", manifest_gid(d, build), 3) + kv("size", size, 3), 2)
        for d, size in installed.items()
    )
    fields = [
        ("appid", APP_ID), ("Universe", 1), ("name", NAME), ("StateFlags", 4), ("installdir", NAME),
        ("LastUpdated", int(time.time())), ("LastPlayed", 0), ("SizeOnDisk", total), ("StagingSize", 0),
        ("buildid", build), ("LastOwner", 0), ("DownloadType", 1), ("UpdateResult", 0),
        ("BytesToDownload", TOTAL_BYTES), ("BytesDownloaded", TOTAL_BYTES), ("BytesToStage", total),
        ("BytesStaged", total), ("TargetBuildID", build), ("AutoUpdateBehavior", 0),
        ("AllowOtherDownloadsWhileRunning", 0), ("ScheduledAutoUpdate", 0),
    ]  # fmt: skip
    body = "".join(kv(k, v, 1) for k, v in fields) + block("InstalledDepots", depots, 1)
    body += block("UserConfig", "", 1) + block("MountedConfig", "", 1)
    path = steaminfo.manifest_path(install_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(block("AppState", body, 0), encoding="utf-8")


def workshop_download(install_dir: Path, app: str, item_id: str) -> None:
    """One `workshop_download_item`. Run with +commands, steamcmd prints the outcome on the
    "Downloading item" line itself (no newline between them), as transcripts show."""
    if __package__:
        from . import workshop_items
    else:
        import workshop_items
    print(f"Downloading item {item_id} ...", end="", flush=True)
    item = workshop_items.ITEMS.get(item_id) if app == "550" else None
    seconds = float(os.environ.get("HOSTCTL_SIM_SECONDS", 20))
    if item is None:
        say(f"ERROR! Download item {item_id} failed (File Not Found).")
        return
    if item.private:
        say(f"ERROR! Download item {item_id} failed (Access Denied).")
        return
    time.sleep(seconds / 10)
    if item.steamcmd_timeout:
        say(f"ERROR! Timeout downloading item {item_id}")
        return
    folder = install_dir / "steamapps" / "workshop" / "content" / app / item_id
    folder.mkdir(parents=True, exist_ok=True)
    data = workshop_items.vpk_bytes(item)
    (folder / f"{item.name}_legacy.bin").write_bytes(data)
    say(f'Success. Downloaded item {item_id} to "{folder}" ({len(data)} bytes)')


def main(argv: list[str]) -> int:
    install_dir = None
    platform = None
    info_updated = False
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
        elif command == "app_info_update":
            info_updated = (args[:1] or ["1"])[0] != "0"
        elif command == "app_info_print" and args:
            if args[0] != APP_ID:
                say(f"No app info for AppID {args[0]} found, requesting...")
                continue
            print_app_info(update=info_updated)
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
            write_manifest(install_dir, platform or "linux")
            say(f"Success! App '{APP_ID}' fully installed.")
        elif command == "workshop_download_item" and len(args) >= 2:
            workshop_download(install_dir or Path.cwd(), args[0], args[1])
        elif command == "quit":
            break
    say("Unloading Steam API...OK")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
