"""Stand-in for AlliedModders' download hosts (sm.alliedmods.net/smdrop, mms.alliedmods.net/mmsdrop).

Stdlib only. Serves, for any branch:
  /smdrop/<branch>/sourcemod-latest-linux      -> "sourcemod-1.12.0-git<build>-linux.tar.gz"
  /smdrop/<branch>/sourcemod-1.12.0-git<build>-linux.tar.gz
  /mmsdrop/<branch>/mmsource-latest-linux      -> "mmsource-1.12.0-git<build>-linux.tar.gz"
  /mmsdrop/<branch>/mmsource-1.12.0-git<build>-linux.tar.gz
tarballs generated with upstream's layout (addons/metamod.vdf, addons/metamod/bin/,
addons/sourcemod/{bin,configs,data,extensions,gamedata,logs,plugins,plugins/disabled,
scripting,translations}, cfg/sourcemod/), plugins starting with the FFPS magic, and
configs/admins_simple.ini with upstream's comment header. Binaries are random bytes after
an ELF magic and a version string, which the srcds simulator reads for `sm version`.

Test hooks (attributes of the server object, changed while it runs):
`sourcemod_build` / `metamod_build` (a new build is an update), `rate` (bytes a second,
0 = as fast as possible: a slow download to cancel), `broken` (tarballs that are not gzip).
Run alone: `python -m hostctl.sim.alliedmods [port]`, then point L4D2_SOURCEMOD_URL at
http://127.0.0.1:<port>/smdrop and L4D2_METAMOD_URL at http://127.0.0.1:<port>/mmsdrop.
"""

from __future__ import annotations

import io
import random
import re
import sys
import tarfile
import threading
import time
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SM_VERSION = "1.12.0"
MM_VERSION = "1.12.0"
SM_BUILD = 7210
MM_BUILD = 1219
CHUNK = 16 * 1024

ADMINS_SIMPLE = """\
//
// READ THIS CAREFULLY! SEE BOTTOM FOR EXAMPLES
//
// For each admin, you need three settings:
//  "identity"\t\t"permissions"\t\t"password"
//
// For the Identity, you can use a SteamID or Name.  To use an IP address, prepend a ! character.
// For the Permissions, you can use a flag string and an optional password.
//
// PERMISSIONS:
//  Flag definitions are in "admin_levels.cfg"
//  You can combine flags into a string like this:
//  "abcdefgh"
//
//  If you want to specify a group instead of a flag, use an @ symbol.  Example:
//  "@Full Admins"
//
//\tYou can also specify immunity values.  Two examples:
//\t"83:abcdefg"\t\t\t//Immunity is 83, flags are abcefgh
//\t"6:@Full Admins"\t\t//Immunity is 6, group is "Full Admins"
//
////////////////////////////////
// Examples: (do not put // in front of real lines, as // means 'comment')
//
//   "STEAM_0:1:16"\t\t"bce"\t\t\t\t//kick, ban, slay for this steam ID, no immunity
//   "!127.0.0.1"\t\t"99:z"\t\t\t\t//all permissions for this ip, immunity value is 99
//   "BAILOPAN"\t\t\t"abc"\t"Gab3n"\t\t//name BAILOPAN, password "Gab3n": gets reservation, kick, ban
//
////////////////////////////////

"""
METAMOD_VDF = '"Plugin"\n{\n\t"file"\t"addons/metamod/bin/server"\n}\n'
METAMOD_X64_VDF = '"Plugin"\n{\n\t"file"\t"addons/metamod/bin/linux64/server"\n}\n'
SOURCEMOD_VDF = (
    '"Metamod Plugin"\n{\n\t"alias"\t\t"sourcemod"\n\t"file"\t\t"addons/sourcemod/bin/sourcemod_mm"\n}\n'
)
PLUGINS = ("admin-flatfile", "adminhelp", "adminmenu", "basebans", "basechat", "basecommands", "funcommands")
DISABLED = ("mapchooser", "nextmap", "rockthevote")


def sourcemod_name(build: int) -> str:
    return f"sourcemod-{SM_VERSION}-git{build}-linux.tar.gz"


def metamod_name(build: int) -> str:
    return f"mmsource-{MM_VERSION}-git{build}-linux.tar.gz"


def _binary(rng: random.Random, stamp: str, size: int) -> bytes:
    return b"\x7fELF\x01\x01\x01\x00" + stamp.encode() + b"\x00" + rng.randbytes(size)


def _smx(rng: random.Random, name: str) -> bytes:
    return b"FFPS" + b"\x02\x01" + name.encode() + b"\x00" + rng.randbytes(3000)


@lru_cache(maxsize=8)
def sourcemod_tarball(build: int) -> bytes:
    rng = random.Random(build)
    stamp = f"SourceMod {SM_VERSION}.{build}"
    sm = "addons/sourcemod"
    files = {
        "addons/metamod/sourcemod.vdf": SOURCEMOD_VDF,
        f"{sm}/bin/sourcemod_mm_i486.so": _binary(rng, stamp, 40_000),
        f"{sm}/bin/sourcemod.2.l4d2.so": _binary(rng, stamp, 60_000),
        f"{sm}/bin/sourcemod.logic.so": _binary(rng, stamp, 60_000),
        f"{sm}/bin/sourcepawn.jit.x86.so": _binary(rng, stamp, 40_000),
        f"{sm}/configs/admins_simple.ini": ADMINS_SIMPLE,
        f"{sm}/configs/admins.cfg": "Admins\n{\n}\n",
        f"{sm}/configs/admin_groups.cfg": 'Groups\n{\n\t"Default"\n\t{\n\t\t"immunity"\t\t"1"\n\t}\n}\n',
        f"{sm}/configs/core.cfg": '"Core"\n{\n\t"Logging"\t\t"on"\n\t"PassInfoVar"\t\t"_password"\n}\n',
        f"{sm}/configs/databases.cfg": '"Databases"\n{\n\t"driver_default"\t\t"mysql"\n}\n',
        f"{sm}/extensions/sdktools.ext.2.l4d2.so": _binary(rng, stamp, 30_000),
        f"{sm}/extensions/sdkhooks.ext.2.l4d2.so": _binary(rng, stamp, 20_000),
        f"{sm}/extensions/dbi.sqlite.ext.so": _binary(rng, stamp, 20_000),
        f"{sm}/gamedata/core.games/common.games.txt": '"Games"\n{\n}\n',
        f"{sm}/gamedata/sdktools.games/game.l4d2.txt": '"Games"\n{\n\t"left4dead2"\n\t{\n\t}\n}\n',
        f"{sm}/scripting/admin-flatfile.sp": "#include <sourcemod>\n\npublic Plugin myinfo =\n{\n};\n",
        f"{sm}/scripting/spcomp": _binary(rng, stamp, 20_000),
        f"{sm}/translations/common.phrases.txt": '"Phrases"\n{\n}\n',
        f"{sm}/translations/core.phrases.txt": '"Phrases"\n{\n}\n',
        f"{sm}/LICENSE.txt": "SOURCEMOD LICENSE\n",
        "cfg/sourcemod/sourcemod.cfg": "// SourceMod configuration\nsm_show_activity 13\nsm_vote_delay 30\n",
        "cfg/sourcemod/sm_warmode_on.cfg": "// Warmode on\n",
        "cfg/sourcemod/sm_warmode_off.cfg": "// Warmode off\n",
    }
    files |= {f"{sm}/plugins/{name}.smx": _smx(rng, name) for name in PLUGINS}
    files |= {f"{sm}/plugins/disabled/{name}.smx": _smx(rng, name) for name in DISABLED}
    dirs = ["addons", "addons/metamod", sm, "cfg", "cfg/sourcemod"]
    dirs += [f"{sm}/{d}" for d in ("bin", "configs", "data", "extensions", "gamedata", "logs", "plugins")]
    dirs += [f"{sm}/{d}" for d in ("plugins/disabled", "scripting", "translations")]
    dirs += [f"{sm}/gamedata/core.games", f"{sm}/gamedata/sdktools.games"]
    return _tarball(dirs, files, executables={f"{sm}/scripting/spcomp"})


@lru_cache(maxsize=8)
def metamod_tarball(build: int) -> bytes:
    rng = random.Random(-build)
    stamp = f"Metamod:Source {MM_VERSION}-dev+{build}"
    files = {
        "addons/metamod.vdf": METAMOD_VDF,
        "addons/metamod_x64.vdf": METAMOD_X64_VDF,
        "addons/metamod/bin/server.so": _binary(rng, stamp, 30_000),
        "addons/metamod/bin/server_i486.so": _binary(rng, stamp, 30_000),
        "addons/metamod/bin/metamod.2.l4d2.so": _binary(rng, stamp, 60_000),
        "addons/metamod/bin/linux64/server.so": _binary(rng, stamp, 30_000),
        "addons/metamod/metaplugins.ini": ";List one plugin per line.\n",
        "addons/metamod/README.txt": "Metamod:Source\nhttps://www.metamodsource.net/\n",
    }
    dirs = ["addons", "addons/metamod", "addons/metamod/bin", "addons/metamod/bin/linux64"]
    return _tarball(dirs, files, executables=set())


def _tarball(dirs: list[str], files: dict[str, str | bytes], executables: set[str]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz") as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        for name, body in files.items():
            data = body.encode() if isinstance(body, str) else body
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 1_700_000_000
            info.mode = 0o755 if name in executables or name.endswith(".so") else 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


_PATH = re.compile(r"^/(smdrop|mmsdrop)/([\w.-]+)/([\w.+-]+)$")


class Handler(BaseHTTPRequestHandler):
    server: AlliedModders

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        match = _PATH.match(self.path)
        body = self.server.answer(*match.groups()) if match else None
        if body is None:
            self.send_error(404, "Not Found")
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.server.requests.append(self.path)
        for start in range(0, len(body), CHUNK):
            if self.server.rate:
                time.sleep(CHUNK / self.server.rate)
            try:
                self.wfile.write(body[start : start + CHUNK])
            except OSError:
                return  # the client went away (a cancelled download)

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's signature)
        pass


class AlliedModders(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int = 0) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.sourcemod_build = SM_BUILD
        self.metamod_build = MM_BUILD
        self.rate = 0
        self.broken = False
        self.requests: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def answer(self, drop: str, branch: str, name: str) -> bytes | None:
        if drop == "smdrop":
            latest, pointer, make = (
                sourcemod_name(self.sourcemod_build),
                "sourcemod-latest-linux",
                sourcemod_tarball,
            )
            build = self.sourcemod_build
        else:
            latest, pointer, make = metamod_name(self.metamod_build), "mmsource-latest-linux", metamod_tarball
            build = self.metamod_build
        if name == pointer:
            return latest.encode()
        if name == latest:
            return b"<html>Bad gateway</html>" * 100 if self.broken else make(build)
        return None

    def start(self) -> AlliedModders:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


if __name__ == "__main__":
    host = AlliedModders(int(sys.argv[1]) if len(sys.argv) > 1 else 8765)
    print(f"Fake AlliedModders downloads on {host.url}/smdrop and {host.url}/mmsdrop", flush=True)
    host.serve_forever()
