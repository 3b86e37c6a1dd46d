"""The bundled srcds and steamcmd simulators, run as real processes and queried like real servers."""

from __future__ import annotations

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import a2s
import psutil
import pytest
import vdf
from rcon.exceptions import WrongPassword
from rcon.source import Client

import hostctl.sim
from hostctl import builds

SIM_DIR = Path(hostctl.sim.__file__).parent
SRCDS = SIM_DIR / "srcds.py"
STEAMCMD = SIM_DIR / "steamcmd.py"
SIM_ENV = ("HOSTCTL_SIM_", "HOSTCTL_SIMULATE")
CFG = 'hostname "Sim Test"\nrcon_password "hunter2" // for RCON tests\nsv_tags "friendly"\n'
READY = "   VAC secure mode is activated."


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """This environment without the simulators' knobs, HOME in the test's folder, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SIM_ENV)}
    return {**env, "HOME": str(home), **extra}


class Srcds:
    """One srcds simulator process: its console on stdin, its output in a file, like the panel runs it."""

    def __init__(self, cwd: Path, port: int, args: list[str], env: dict[str, str]) -> None:
        self.port = port
        self.log = cwd / "console.log"
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, str(SRCDS), *args],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=cwd,
                env=env,
            )

    @property
    def output(self) -> str:
        return self.log.read_text()

    @property
    def lines(self) -> list[str]:
        return self.output.splitlines()

    def send(self, command: str) -> None:
        self.proc.stdin.write(f"{command}\n".encode())
        self.proc.stdin.flush()

    def wait_for(self, text: str, count: int = 1, timeout: float = 5) -> str:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            assert time.monotonic() < deadline, f"{text!r} not printed; console:\n{self.output}"
            time.sleep(0.02)
        return self.output

    def run(self, command: str) -> list[str]:
        """Send a console command; the lines it printed (up to a marker echoed after it)."""
        start = len(self.lines)
        marker = f"-- done {time.monotonic_ns()} --"
        self.send(command)
        self.send(f"echo {marker}")
        self.wait_for(marker)
        lines = self.lines
        return lines[start : lines.index(marker)]

    def exit_code(self, timeout: float = 5) -> int:
        return self.proc.wait(timeout)

    def info(self, timeout: float = 2):
        return a2s.info(("127.0.0.1", self.port), timeout=timeout)

    def rcon(self, password: str = "hunter2") -> Client:
        return Client("127.0.0.1", self.port, passwd=password, timeout=3)


@pytest.fixture
def game_dir(tmp_path) -> Path:
    """An install dir with a server.cfg, where the simulator runs."""
    cfg = tmp_path / "server" / "left4dead2" / "cfg"
    cfg.mkdir(parents=True)
    (cfg / "server.cfg").write_text(CFG)
    return tmp_path / "server"


@pytest.fixture
def srcds(game_dir, udp_port, tmp_path):
    """Starts simulators (`-norestart` unless restart=True); every one is killed and reaped afterwards."""
    started: list[Srcds] = []

    def start(*args: str, restart: bool = False, ready: bool = True, port: int = udp_port, **env) -> Srcds:
        argv = ["-game", "left4dead2", "-port", str(port), "+map", "c1m1_hotel", *args]
        server = Srcds(game_dir, port, argv + ([] if restart else ["-norestart"]), clean_env(tmp_path, **env))
        started.append(server)
        if ready:
            server.wait_for(READY)
        return server

    yield start
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
        server.proc.wait(5)
        server.proc.stdin.close()


# --- console ------------------------------------------------------------------------


def test_startup_prints_the_real_console_lines_up_to_the_ready_line(srcds, udp_port):
    lines = srcds().lines
    assert "Server will auto-restart if there is a crash." not in lines  # -norestart
    expected = [
        f"Network: IP 0.0.0.0, mode MP, dedicated Yes, ports {udp_port} SV / 27005 CL",
        "Executing dedicated server config file server.cfg",
        "Connection to Steam servers successful.",
        READY,
    ]
    assert [line for line in lines if line in expected] == expected
    assert any(
        re.fullmatch(r"Assigned anonymous gameserver Steam ID \[A:1:\d+:\d+\]\.", line) for line in lines
    )


def test_without_norestart_srcds_run_announces_its_restart_loop(srcds):
    assert srcds(restart=True).lines[0] == "Server will auto-restart if there is a crash."


def test_status_prints_the_real_format_with_hostname_and_players(srcds, udp_port):
    server = srcds(HOSTCTL_SIM_PLAYERS="Ellis,Nick,BOT:Coach")
    lines = server.run("status")
    assert lines[:8] == [
        "hostname: Sim Test",
        lines[1],
        f"udp/ip  : 0.0.0.0:{udp_port} [ public 127.0.0.1:{udp_port} ]",
        "os      : Linux Dedicated",
        "map     : c1m1_hotel",
        "players : 2 humans, 1 bots (8 max) (not hibernating) (unreserved)",
        "",
        "# userid name uniqueid connected ping loss state rate",
    ]
    assert re.fullmatch(r"version : 2\.2\.4\.3 \d+ secure  \(unknown\)", lines[1])
    human = r'#  \d \d "{}" STEAM_1:[01]:\d+ \d\d:\d\d \d+ 0 active 30000'
    assert re.fullmatch(human.format("Ellis"), lines[8])
    assert re.fullmatch(human.format("Nick"), lines[9])
    assert re.fullmatch(r'# \d "Coach" BOT active', lines[10])
    assert lines[11:] == ["#end"]


def test_say_prints_what_the_console_said(srcds):
    assert srcds().run("say Tank incoming, hold the saferoom") == [
        "Console: Tank incoming, hold the saferoom"
    ]


def test_changelevel_changes_the_map_in_a2s_and_status(srcds):
    server = srcds()
    assert server.run("changelevel c2m1_highway") == ["Executing dedicated server config file server.cfg"]
    assert server.info().map_name == "c2m1_highway"
    assert "map     : c2m1_highway" in server.run("status")


def test_changelevel_to_an_unknown_map_fails_and_keeps_the_map(srcds, game_dir):
    server = srcds()
    assert server.run("changelevel c99m1_nowhere") == [
        "CModelLoader::Map_IsValid:  No such map 'maps/c99m1_nowhere.bsp'",
        "changelevel failed: c99m1_nowhere not found",
    ]
    assert server.info().map_name == "c1m1_hotel"
    # A custom map is known once its .bsp is in left4dead2/maps.
    (game_dir / "left4dead2" / "maps").mkdir()
    (game_dir / "left4dead2" / "maps" / "c99m1_nowhere.bsp").write_bytes(b"VBSP")
    server.run("changelevel c99m1_nowhere")
    assert server.info().map_name == "c99m1_nowhere"


def test_unknown_commands_are_refused_quoting_only_the_first_word(srcds):
    assert srcds().run("sm version") == ['Unknown command "sm"']


def test_sm_and_meta_answer_when_sourcemod_was_installed_before_the_start(srcds, game_dir, drops, lines):
    from hostctl import sourcemod
    from hostctl.spec import ServerSpec

    sources = sourcemod.Sources(sourcemod_url=f"{drops.url}/smdrop", metamod_url=f"{drops.url}/mmsdrop")
    spec = ServerSpec(id=1, install_dir=game_dir, port=0)
    sourcemod.run(spec, lines, params={"action": "install"}, sources=sources)
    server = srcds()
    assert server.run("sm version")[:2] == [
        " SourceMod Version Information:",
        "    SourceMod Version: 1.12.0.7210",
    ]
    assert "    Metamod:Source version 1.12.0-dev+1219" in server.run("meta version")
    assert server.run("sm plugins refresh") == ["[SM] The plugin list has been refreshed and reloaded."]
    assert server.run("sm_reloadadmins") == ["[SM] Admin cache has been refreshed."]


def test_cvars_from_server_cfg_and_runtime_show_in_queries_and_a2s(srcds, game_dir):
    (game_dir / "left4dead2" / "cfg" / "server.cfg").write_text(
        CFG
        + 'sv_password "letmein"\nz_difficulty Expert_typo // a value is not checked\nmp_gamemode versus\n'
    )
    server = srcds()
    info = server.info()
    assert (info.server_name, info.password_protected, info.keywords) == ("Sim Test", True, "versus,friendly")
    assert server.run("hostname")[0] == '"hostname" = "Sim Test" ( def. "Left 4 Dead 2" )'
    assert server.run('hostname "Renamed; at runtime"') == []
    assert server.info().server_name == "Renamed; at runtime"
    assert server.run("z_difficulty Impossible") == []
    assert server.run("z_difficulty")[0] == '"z_difficulty" = "Impossible" ( def. "Normal" )'


def test_quit_prints_the_shutdown_and_exits_0(srcds):
    server = srcds()
    server.send("quit")
    assert server.exit_code() == 0
    assert server.lines[-1] == "Shutting down server..."


def test_quit_without_norestart_ends_like_srcds_run_by_sigint(srcds):
    server = srcds(restart=True)
    server.send("quit")
    assert server.exit_code() == -signal.SIGINT
    assert re.fullmatch(r"\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \w+ \d{4}: Server Quit", server.lines[-1])


def test_sigterm_ends_the_server_at_once(srcds):
    server = srcds()
    started = time.monotonic()
    server.proc.terminate()
    assert server.exit_code() == -signal.SIGTERM
    assert time.monotonic() - started < 1


# --- players --------------------------------------------------------------------------


def test_a_fresh_server_has_players_whose_time_grows_and_info_counts_them(srcds, udp_port):
    server = srcds()
    before = a2s.players(("127.0.0.1", udp_port), timeout=2)
    assert len(before) == server.info().player_count == 3
    assert all(p.name and p.duration > 0 for p in before)
    time.sleep(0.3)
    after = a2s.players(("127.0.0.1", udp_port), timeout=2)
    assert [p.name for p in after] == [p.name for p in before]
    assert all(a.duration >= b.duration + 0.25 for a, b in zip(after, before, strict=True))


def test_players_are_chosen_by_env_and_by_console_command(srcds, udp_port):
    server = srcds(HOSTCTL_SIM_PLAYERS="")
    assert a2s.players(("127.0.0.1", udp_port), timeout=2) == []
    assert server.info().player_count == 0
    assert "Server is hibernating" in server.lines
    server.run("sim_players Rochelle,BOT:Louis")
    info = server.info()
    assert (info.player_count, info.bot_count) == (2, 1)
    assert [p.name for p in a2s.players(("127.0.0.1", udp_port), timeout=2)] == ["Rochelle", "Louis"]
    assert server.run("sim_players") == ["Server is hibernating"]
    assert server.info().player_count == 0


# --- RCON -------------------------------------------------------------------------------


def test_rcon_client_logs_in_and_reads_status(srcds):
    server = srcds()
    with server.rcon() as client:
        status = client.run("status")
        assert status.splitlines()[0] == "hostname: Sim Test"
        assert client.run("say", "from", "rcon") == "Console: from rcon\n"


def test_rcon_refuses_a_wrong_password(srcds):
    with pytest.raises(WrongPassword), srcds().rcon("hunter3"):
        pass


def test_rcon_refuses_everyone_while_no_password_is_set(srcds, game_dir):
    (game_dir / "left4dead2" / "cfg" / "server.cfg").write_text('hostname "No RCON"\n')
    with pytest.raises(WrongPassword), srcds().rcon(""):
        pass


def test_rcon_commands_run_like_console_commands_and_are_logged_with_log_on(srcds):
    server = srcds()
    server.run("log on")
    with server.rcon() as client:
        assert client.run("hostname", '"Set over RCON"') == ""
        port = client._socket.getsockname()[1]
    assert server.info().server_name == "Set over RCON"
    line = next(line for line in server.wait_for("rcon from").splitlines() if "rcon from" in line)
    expected = rf'rcon from "127\.0\.0\.1:{port}": command "hostname "Set over RCON""'
    assert re.fullmatch(r"L \d\d/\d\d/\d{4} - \d\d:\d\d:\d\d: " + expected, line)


def raw_packet(request_id: int, kind: int, body: bytes = b"") -> bytes:
    payload = struct.pack("<ii", request_id, kind) + body + b"\x00\x00"
    return struct.pack("<i", len(payload)) + payload


def read_packets(sock: socket.socket, count: int) -> list[tuple[int, int, bytes]]:
    """`count` packets as (id, type, body); the two trailing NULs are checked and dropped."""
    data, packets = b"", []
    while len(packets) < count:
        while len(data) < 4 or len(data) < 4 + struct.unpack_from("<i", data)[0]:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed after {packets}"
            data += chunk
        size = struct.unpack_from("<i", data)[0]
        request_id, kind = struct.unpack_from("<ii", data, 4)
        body = data[12 : 4 + size]
        assert body.endswith(b"\x00\x00")
        packets.append((request_id, kind, body[:-2]))
        data = data[4 + size :]
    return packets


def test_rcon_speaks_the_source_protocol_with_split_answers_and_the_end_marker(srcds, game_dir):
    (game_dir / "left4dead2" / "cfg" / "long.cfg").write_text(
        "".join(f"echo line {i:03d} {'x' * 90}\n" for i in range(100))
    )
    server = srcds()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(raw_packet(7, 3, b"hunter2"))
        # An empty RESPONSE_VALUE first, then AUTH_RESPONSE with our id.
        assert read_packets(sock, 2) == [(7, 0, b""), (7, 2, b"")]
        # A long answer, then the classic end marker: an empty RESPONSE_VALUE sent after the command.
        sock.sendall(raw_packet(8, 2, b"exec long.cfg") + raw_packet(9, 0))
        answer = read_packets(sock, 4)
        assert [(i, k) for i, k, _ in answer] == [(8, 0), (8, 0), (8, 0), (9, 0)]
        assert [len(body) for _, _, body in answer] == [4096, 4096, 10000 - 8192, 0]
        assert b"".join(body for _, _, body in answer).decode().splitlines()[-1].startswith("line 099 x")
        # As srcds, a frame later: the answer to the end marker read as a cvar query.
        assert read_packets(sock, 1) == [(9, 0, b"\x00\x01\x00\x00")]


def test_several_rcon_clients_are_served_at_once(srcds):
    server = srcds()
    socks = [socket.create_connection(("127.0.0.1", server.port), timeout=3) for _ in range(5)]
    try:
        for number, sock in enumerate(socks):  # every client is connected before any is answered
            sock.sendall(raw_packet(number, 3, b"hunter2"))
        for number, sock in reversed(list(enumerate(socks))):
            assert read_packets(sock, 2) == [(number, 0, b""), (number, 2, b"")]
            sock.sendall(raw_packet(100 + number, 2, f"say client{number}".encode()))
        for number, sock in enumerate(socks):
            assert read_packets(sock, 1) == [(100 + number, 0, f"Console: client{number}\n".encode())]
    finally:
        for sock in socks:
            sock.close()


def test_changing_rcon_password_drops_connections_and_the_new_one_works(srcds):
    server = srcds()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        sock.sendall(raw_packet(1, 3, b"hunter2"))
        assert read_packets(sock, 2)[1] == (1, 2, b"")
        server.run('rcon_password "correct horse"')
        assert sock.recv(100) == b""  # closed by the server
    with server.rcon("correct horse") as client:
        assert client.run("say", "ok") == "Console: ok\n"


def test_repeated_wrong_passwords_ban_the_address(srcds):
    server = srcds()
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        for attempt in range(4):
            sock.sendall(raw_packet(attempt, 3, b"guess"))
            assert read_packets(sock, 2)[1] == (-1, 2, b"")
        sock.sendall(raw_packet(5, 3, b"guess"))
        assert sock.recv(100) == b""
    assert "Banning 127.0.0.1 for rcon hacking attempts" in server.lines
    with socket.create_connection(("127.0.0.1", server.port), timeout=3) as sock:
        assert sock.recv(100) == b""


# --- failures -------------------------------------------------------------------------------


def test_segfault_with_norestart_dies_by_sigsegv_and_the_console_says_nothing(srcds):
    server = srcds()
    before = server.output
    server.send("sim_crash segfault")
    assert server.exit_code() == -signal.SIGSEGV  # a shell reports 139
    assert server.output == before  # srcds_run exec'd the server: nobody is left to print


def test_segfault_without_norestart_prints_the_wrapper_lines_and_restarts(srcds):
    server = srcds("-timeout", "0.2", restart=True)
    server.send("sim_crash segfault")
    server.wait_for(READY, count=2)
    lines = server.lines
    crash = lines[next(i for i, line in enumerate(lines) if "Segmentation fault" in line) :]
    assert re.fullmatch(
        r"\./srcds_run: line \d+: +\d+ Segmentation fault +\(core dumped\) \$HL_CMD", crash[0]
    )
    assert crash[1] == 'Add "-debug" to the ./srcds_run command line ' + (
        "to generate a debug.log to help with solving this problem"
    )
    assert crash[2].endswith(": Server restart in 0.2 seconds")
    assert server.proc.poll() is None
    assert server.info().server_name == "Sim Test"


@pytest.mark.parametrize(
    ("kind", "last_line"),
    [
        ("hosterror", "Host_Error: SV_CreatePacketEntities: GetEntServerClass failed for ent 2048."),
        ("library", "[S_API FAIL] SteamAPI_Init() failed; unable to locate a running instance of Steam, "
         "or a local steamclient.so."),
    ],
)  # fmt: skip
def test_host_errors_and_missing_libraries_exit_1(srcds, kind, last_line):
    server = srcds()
    server.send(f"sim_crash {kind}")
    assert server.exit_code() == 1
    assert server.lines[-1] == last_line
    if kind == "library":
        assert server.lines[-2].endswith(
            "steamclient.so: cannot open shared object file: No such file or directory"
        )


def test_crash_after_env_fails_again_after_every_restart(srcds):
    server = srcds("-timeout", "0", restart=True, HOSTCTL_SIM_CRASH_AFTER="0.3:hosterror")
    server.wait_for("Server restart in 0 seconds", count=2)
    assert server.output.count("Host_Error: ") >= 2
    assert server.proc.poll() is None  # srcds_run keeps restarting it


def test_crash_after_zero_fails_during_startup(srcds):
    server = srcds(ready=False, HOSTCTL_SIM_CRASH_AFTER="0:library")
    assert server.exit_code() == 1
    assert "Connection to Steam servers successful." not in server.lines


def test_a_missing_map_is_a_host_error_at_startup(srcds):
    server = srcds("+map", "c1m9_nowhere", ready=False)
    assert server.exit_code() == 1
    assert server.lines[-1] == "Host_Error: unable to open maps/c1m9_nowhere.bsp"


def test_a_busy_port_with_strictportbind_quits(srcds, udp_port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("0.0.0.0", udp_port))
        server = srcds("-strictportbind", ready=False)
        assert server.exit_code() == 1
    assert server.lines[-1] == (
        f'WARNING: Port {udp_port} was unavailable - quitting due to "-strictportbind" command line flag!'
    )


def test_a_busy_tcp_port_counts_as_busy_too(srcds, udp_port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("0.0.0.0", udp_port))
        squatter.listen()
        server = srcds("-strictportbind", ready=False)
        assert server.exit_code() == 1
    assert "quitting due to" in server.lines[-1]


def test_a_busy_port_without_strictportbind_moves_to_the_next_one(srcds, udp_port):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("0.0.0.0", udp_port))
        server = srcds(ready=False)
        lines = server.wait_for(READY).splitlines()
        moved = next(line for line in lines if line.startswith("Network: "))
        assert moved == f"Network: IP 0.0.0.0, mode MP, dedicated Yes, ports {udp_port + 1} SV / 27005 CL"
        assert a2s.info(("127.0.0.1", udp_port + 1), timeout=2).server_name == "Sim Test"


def test_an_address_that_cannot_be_bound_means_no_udp_port(srcds):
    server = srcds("-ip", "192.0.2.1", ready=False)  # TEST-NET-1: on no interface here
    assert server.exit_code() == 1
    assert server.lines[-2:] == [
        "WARNING: NNET_OpenSocket: bind: Cannot assign requested address",
        "Couldn't allocate dedicated server UDP port",
    ]


def test_a_hung_server_lives_but_answers_nothing(srcds):
    server = srcds()
    server.send("sim_hang")
    time.sleep(0.2)
    with pytest.raises(TimeoutError):
        server.info(timeout=0.5)
    with socket.create_connection(("127.0.0.1", server.port), timeout=0.5) as sock:
        sock.sendall(raw_packet(1, 3, b"hunter2"))
        with pytest.raises(TimeoutError):
            sock.recv(100)
    before = server.output
    server.send("status")
    time.sleep(0.2)
    assert server.output == before
    assert server.proc.poll() is None
    server.proc.terminate()
    assert server.exit_code() == -signal.SIGTERM


def test_a_hang_can_come_by_itself_after_some_seconds(srcds):
    server = srcds(HOSTCTL_SIM_CRASH_AFTER="1:hang")
    assert server.info().server_name == "Sim Test"
    time.sleep(1.2)
    with pytest.raises(TimeoutError):
        server.info(timeout=0.5)
    assert server.proc.poll() is None


def test_update_notice_on_command(srcds):
    assert srcds().run("sim_update_available") == [
        "MasterRequestRestart",
        "Your server needs to be restarted in order to receive the latest update.",
    ]


def test_update_notice_comes_when_the_latest_build_passes_the_installed_one(srcds, game_dir, tmp_path):
    manifest = game_dir / "steamapps" / "appmanifest_222860.acf"
    manifest.parent.mkdir()
    manifest.write_text('"AppState"\n{\n\t"appid"\t\t"222860"\n\t"buildid"\t\t"100"\n}\n')
    latest = tmp_path / "latest_build"
    latest.write_text("100\n")
    server = srcds(HOSTCTL_SIM_LATEST_BUILD_FILE=str(latest))
    time.sleep(0.5)  # the first check comes at once
    assert "MasterRequestRestart" not in server.lines
    latest.write_text("101\n")
    server.wait_for("Your server needs to be restarted in order to receive the latest update.", timeout=3)


# --- steamcmd -------------------------------------------------------------------------------


def steamcmd(tmp_path, *args: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(STEAMCMD), *args],
        capture_output=True,
        text=True,
        timeout=20,
        cwd=tmp_path,
        env=clean_env(tmp_path, HOSTCTL_SIM_SECONDS="0.1", **env),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def app_info_block(output: str) -> dict:
    """The KeyValues block app_info_print prints after its `AppID : ...` line, parsed (hostctl.builds)."""
    header = re.search(r"^AppID : 222860, change number : \d+/\d+, last change : .+ $", output, re.MULTILINE)
    assert header, output
    info = builds.parse_app_info(output[header.end() :])
    assert info is not None, f"no app info block after the header:\n{output}"
    return info


def test_app_info_print_is_keyvalues_whose_public_build_follows_the_build_file(tmp_path):
    build_file = tmp_path / "latest_build"
    build_file.write_text("12345678\n")
    env = {"HOSTCTL_SIM_LATEST_BUILD_FILE": str(build_file)}
    output = steamcmd(
        tmp_path, "+login", "anonymous", "+app_info_update", "1", "+app_info_print", "222860", "+quit", **env
    )
    info = app_info_block(output)
    assert info["common"]["name"] == "Left 4 Dead 2 Dedicated Server"
    assert info["depots"]["branches"]["public"]["buildid"] == "12345678"
    assert int(info["depots"]["branches"]["public"]["timeupdated"]) == int(build_file.stat().st_mtime)
    build_file.write_text("12345679\n")
    again = steamcmd(
        tmp_path, "+login", "anonymous", "+app_info_update", "1", "+app_info_print", "222860", "+quit", **env
    )
    assert app_info_block(again)["depots"]["branches"]["public"]["buildid"] == "12345679"


def test_app_info_print_answers_from_the_stale_cache_until_it_is_deleted(tmp_path):
    print_only = ["+login", "anonymous", "+app_info_print", "222860", "+quit"]
    first = steamcmd(tmp_path, *print_only, HOSTCTL_SIM_LATEST_BUILD="500")
    assert app_info_block(first)["depots"]["branches"]["public"]["buildid"] == "500"
    stale = steamcmd(tmp_path, *print_only, HOSTCTL_SIM_LATEST_BUILD="501")
    assert app_info_block(stale)["depots"]["branches"]["public"]["buildid"] == "500"
    (tmp_path / "Steam" / "appcache" / "appinfo.vdf").unlink()
    fresh = steamcmd(tmp_path, *print_only, HOSTCTL_SIM_LATEST_BUILD="501")
    assert app_info_block(fresh)["depots"]["branches"]["public"]["buildid"] == "501"


def test_app_update_writes_an_appmanifest_with_the_latest_build(tmp_path):
    install = tmp_path / "install"
    output = steamcmd(
        tmp_path,
        *("+force_install_dir", str(install), "+login", "anonymous", "+app_update", "222860", "+quit"),
        HOSTCTL_SIM_LATEST_BUILD="777",
    )
    assert "Success! App '222860' fully installed." in output
    state = vdf.loads((install / "steamapps" / "appmanifest_222860.acf").read_text())["AppState"]
    assert (state["appid"], state["name"], state["StateFlags"]) == (
        "222860",
        "Left 4 Dead 2 Dedicated Server",
        "4",
    )
    assert state["buildid"] == state["TargetBuildID"] == "777"
    assert set(state["InstalledDepots"]) == {"222861", "222863"}  # shared content + linux binaries
    assert abs(int(state["LastUpdated"]) - time.time()) < 60


def test_sim_tick_prints_numbered_timestamped_lines_at_its_rate_then_stops(srcds):
    server = srcds()
    before = time.time()
    server.send("sim_tick 200 20")
    server.wait_for("tick 20 ")
    time.sleep(0.1)
    ticks = [line.split() for line in server.lines if line.startswith("tick ")]
    assert [int(n) for _, n, _ in ticks] == list(range(1, 21))  # and no 21st
    stamps = [float(t) for _, _, t in ticks]
    assert stamps == sorted(stamps) and before <= stamps[0] <= stamps[-1] <= time.time()
    # Done ticking, it idles again instead of spinning on its last deadline.
    assert psutil.Process(server.proc.pid).cpu_percent(interval=0.5) < 50
