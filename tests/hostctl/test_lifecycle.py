"""hostctl.l4d2 against the bundled steamcmd and srcds simulators."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import a2s
import psutil
import pytest

from hostctl import l4d2, steamcmd
from hostctl.l4d2 import HostError
from hostctl.process import CancelToken

from .conftest import server_pid, still_running


def steamcmd_processes() -> list[psutil.Process]:
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "steamcmd.py" in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:  # exited meanwhile, or a zombie: not running
            pass
    return found


def test_a_fresh_server_is_not_installed(spec, config):
    assert l4d2.status(spec, config=config).state == "not_installed"


def test_install_runs_both_platform_passes_and_leaves_a_stopped_server(spec, config, lines):
    assert l4d2.install(spec, lines, config=config) == 0
    assert lines.of("stdout").count("Success! App '222860' fully installed.") == 2
    commands = [text for text in lines.of("system") if text.startswith("$ ")]
    assert "+@sSteamCmdForcePlatformType windows +force_install_dir" in commands[0]
    assert "+@sSteamCmdForcePlatformType linux +force_install_dir" in commands[1]
    assert commands[1].endswith("+app_update 222860 validate +quit")
    assert l4d2.status(spec, config=config) == l4d2.ServerStatus("stopped")


def test_install_reports_its_phases_and_one_growing_whole_percent_for_both_passes(spec, config, lines):
    assert l4d2.install(spec, lines, config=config) == 0
    assert lines.of("phase") == ["Download (Windows platform)", "Download (Linux platform)"]
    percents = [int(text) for text in lines.of("progress")]
    assert percents == sorted(set(percents)), "the bar only ever grows"
    assert percents[-1] == 100
    # The first pass fills the first half of the bar, the second the rest.
    windows_done = lines.items.index(("phase", "Download (Linux platform)"))
    before = [int(text) for stream, text in lines.items[:windows_done] if stream == "progress"]
    assert before and max(before) == 50


def test_restart_reports_a_stop_and_a_start_phase(running, config, lines):
    assert l4d2.restart(running, lines, config=config) == 0
    assert lines.of("phase") == ["Stop", "Start"]


def test_start_brings_up_a_server_that_answers_a2s(installed, config, lines, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_PLAYERS", "Ellis,Nick")
    named = dataclasses.replace(installed, name="Friday Night", map="c2m1_highway", max_players=4)
    assert l4d2.start(named, lines, config=config) == 0
    info = a2s.info(("127.0.0.1", named.port), timeout=2)
    assert (info.server_name, info.map_name, info.max_players) == ("Friday Night", "c2m1_highway", 4)
    assert "Connection to Steam servers successful." in lines.of("stdout")
    current = l4d2.status(named, config=config)
    assert (current.state, current.name, current.map, current.players) == (
        "running",
        "Friday Night",
        "c2m1_highway",
        2,
    )
    assert current.pid == server_pid(named)


def test_starting_a_running_server_does_nothing(running, config, lines):
    pid = server_pid(running)
    assert l4d2.start(running, lines, config=config) == 0
    assert lines.of("system")[-1] == "Server is already running"
    assert server_pid(running) == pid


def test_stop_quits_the_server_through_its_console(running, config, lines):
    pid = server_pid(running)
    assert l4d2.stop(running, lines, config=config) == 0
    assert "Server quit" in lines.of("system")
    assert still_running([pid]) == []
    assert l4d2.status(running, config=config).state == "stopped"
    assert "Shutting down server..." in (running.install_dir / "console.log").read_text()


def test_restart_gives_a_new_server_process(running, config, lines):
    pid = server_pid(running)
    assert l4d2.restart(running, lines, config=config) == 0
    assert server_pid(running) != pid
    assert l4d2.status(running, config=config).state == "running"


def test_stopping_a_stopped_server_is_fine(installed, config, lines):
    assert l4d2.stop(installed, lines, config=config) == 0
    assert lines.of("system") == ["Server is not running"]


def test_status_is_crashed_after_the_server_is_killed(running, config):
    pid = server_pid(running)
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while l4d2.status(running, config=config).state != "crashed" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert l4d2.status(running, config=config).state == "crashed"


def test_install_cancelled_half_way_returns_fast_and_leaves_no_steamcmd(spec, config, lines):
    slow = dataclasses.replace(config, sim_seconds=5)
    token = CancelToken()
    timer = threading.Timer(1, token.cancel)
    timer.start()
    started = time.monotonic()
    code = l4d2.install(spec, lines, token, config=slow)
    timer.join()
    assert code == -signal.SIGTERM
    assert time.monotonic() - started < 2
    assert any(text.startswith(" Update state (0x61) downloading") for text in lines.of("stdout"))
    assert "Success! App '222860' fully installed." not in lines.of("stdout")
    assert steamcmd_processes() == []


def test_start_on_a_busy_port_fails_clearly(installed, config, lines):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as squatter:
        squatter.bind(("0.0.0.0", installed.port))
        with pytest.raises(HostError, match=f"UDP port {installed.port} is already in use"):
            l4d2.start(installed, lines, config=config)
    assert not (installed.install_dir / "srcds.pid").exists()


def test_start_before_install_fails_clearly(spec, config, lines):
    with pytest.raises(HostError, match="srcds_run not found in .*: install the server first"):
        l4d2.start(spec, lines, config=config)


@pytest.mark.parametrize(
    "name", ['x" ; rcon_password "y', "evil\nrcon_password y", 'a"\r\nrcon_password y\n"']
)
def test_cfg_injection_through_the_name_stays_inert(installed, config, lines, name):
    assert l4d2.start(dataclasses.replace(installed, name=name), lines, config=config) == 0
    cfg = (installed.install_dir / "left4dead2" / "cfg" / "server.cfg").read_text()
    lines_of_cfg = [line.strip() for line in cfg.splitlines() if line.strip() and not line.startswith("//")]
    assert lines_of_cfg[1:] == ["log on", 'sv_logecho "1"']  # the name added no line
    assert lines_of_cfg[0].startswith('hostname "') and lines_of_cfg[0].count('"') == 2
    assert not any(line.startswith("rcon_password") for line in lines_of_cfg)
    assert "rcon_password" in a2s.info(("127.0.0.1", installed.port), timeout=2).server_name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [("map", "c1m1; quit", "Map name"), ("port", 80, "Port"), ("max_players", 64, "Max players")],
)
def test_start_rejects_invalid_settings(installed, config, lines, field, value, message):
    with pytest.raises(HostError, match=message):
        l4d2.start(dataclasses.replace(installed, **{field: value}), lines, config=config)


def test_invalid_platform_explains_the_workaround(spec, config, lines, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_FAIL", "platform")
    no_workaround = dataclasses.replace(config, platform_workaround=False)
    assert l4d2.install(spec, lines, config=no_workaround) != 0
    assert any("HOSTCTL_PLATFORM_WORKAROUND=1" in text for text in lines.of("system"))
    # With the workaround (the default) the same Steam behaviour installs fine.
    assert l4d2.install(spec, lines, config=config) == 0


def test_a_full_disk_fails_the_install_even_though_steamcmd_exits_0(spec, config, lines, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_FAIL", "disk")
    assert l4d2.install(spec, lines, config=config) == 1
    assert "steamcmd reported state 0x202: not enough disk space" in lines.of("system")
    assert l4d2.status(spec, config=config).state == "not_installed"


def test_a_missing_steamcmd_is_reported(spec, config, lines):
    real = dataclasses.replace(config, simulate=False, steamcmd="/nonexistent/steamcmd")
    with pytest.raises(HostError, match="steamcmd was not found where HOSTCTL_STEAMCMD points"):
        l4d2.install(spec, lines, config=real)


def test_command_lines_match_what_the_operations_run(spec, config):
    start = l4d2.command_line("start", spec, config=config)
    assert start[1:] == [
        *("-game", "left4dead2", "-norestart", "-strictportbind", "-ip", "0.0.0.0", "-port", str(spec.port)),
        *("+map", "c1m1_hotel", "-maxplayers", "8", "+servercfgfile", "server.cfg"),
    ]
    assert l4d2.command_line("update", spec, config=config)[-3:] == ["+app_update", "222860", "+quit"]


def test_kill_strays_stops_a_dead_runs_marked_leftovers_but_spares_shells_and_the_game_server(running):
    pid = server_pid(running)
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    env = dict(os.environ, HOSTCTL_MARK="l4d2-job-7")
    leftover = subprocess.Popen(sleep, cwd=running.install_dir, env=env, start_new_session=True)
    # An operator's shell working in the same directory is not the job's.
    shell = subprocess.Popen(sleep, cwd=running.install_dir, start_new_session=True)
    other_job = subprocess.Popen(sleep, env=dict(env, HOSTCTL_MARK="l4d2-job-8"), start_new_session=True)
    try:
        assert l4d2.kill_strays(running, "l4d2-job-7") == 1
        assert leftover.wait(5) == -signal.SIGKILL
        assert shell.poll() is None and other_job.poll() is None
        assert still_running([pid]) == [pid]
    finally:
        for proc in (leftover, shell, other_job):
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_an_update_with_nothing_to_download_counts_as_success():
    judge = steamcmd.OutputJudge(platform_workaround=True)
    assert judge.feed("Success! App '222860' already up to date.") is None
    assert judge.exit_code(0) == 0
