"""What the supervisor asks of the host: process checks, exits, A2S, usage, crash reasons."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psutil
import pytest

from hostctl import crash, exits, l4d2, monitor, srcds
from hostctl.a2s import query_many

from .conftest import our_zombies, server_pid

ROOT = Path(__file__).resolve().parents[2]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)
    return value


@pytest.fixture
def heard():
    """Every exit this process is told of while the test runs."""
    events: list[exits.Exit] = []
    monitor.on_exit(events.append)
    yield events
    monitor.off_exit(events.append)


# --- reading a file's tail -----------------------------------------------------------


def test_tail_lines_gives_the_last_lines_of_a_big_file(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("".join(f"line {i}\n" for i in range(200_000)))
    assert crash.tail_lines(log, 3) == ["line 199997", "line 199998", "line 199999"]
    assert len(crash.tail_lines(log)) == 50


def test_tail_lines_keeps_a_last_line_without_newline_and_replaces_bad_bytes(tmp_path):
    log = tmp_path / "console.log"
    log.write_bytes(b"one\r\ntwo \xff\nthree")
    assert crash.tail_lines(log) == ["one", "two \ufffd", "three"]


def test_tail_lines_of_a_missing_file_is_empty(tmp_path):
    assert crash.tail_lines(tmp_path / "nothing.log") == []


def test_tail_lines_never_returns_a_line_cut_at_the_front(tmp_path):
    log = tmp_path / "console.log"
    log.write_text("x" * 300_000 + "\nlast\n")
    assert crash.tail_lines(log) == ["last"]


# --- classifying a death ----------------------------------------------------------------

STARTUP = ["Setting breakpad minidump AppID = 222860", "Console initialized."]


@pytest.mark.parametrize(
    "status, lines, kind",
    [
        (-signal.SIGSEGV, STARTUP, crash.SEGFAULT),
        (139, STARTUP, crash.SEGFAULT),
        (
            None,
            [*STARTUP, "./srcds_run: line 345: 12 Segmentation fault      (core dumped) $HL_CMD"],
            "segfault",
        ),
        (1, [*STARTUP, "Couldn't allocate dedicated server UDP port"], crash.PORT_IN_USE),
        (
            1,
            [
                *STARTUP,
                'WARNING: Port 27015 was unavailable - quitting due to "-strictportbind" command line flag!',
            ],
            crash.PORT_IN_USE,
        ),
        (1, [*STARTUP, "Host_Error: unable to open maps/nowhere.bsp"], crash.MISSING_MAP),
        (None, [*STARTUP, "CModelLoader::Map_IsValid:  No such map 'maps/x.bsp'"], crash.MISSING_MAP),
        (
            1,
            [*STARTUP, "steamclient.so: cannot open shared object file: No such file or directory"],
            "missing_library",
        ),
        (1, [*STARTUP, "Host_Error: SV_CreatePacketEntities: GetEntServerClass failed"], crash.HOST_ERROR),
        (-signal.SIGKILL, STARTUP, crash.UNKNOWN),
        (None, [], crash.UNKNOWN),
    ],
)
def test_a_death_is_classified_from_its_exit_status_and_console(status, lines, kind):
    assert crash.classify(status, lines).kind == kind


def test_the_detail_quotes_the_console_line_that_decided():
    line = "Host_Error: SV_CreatePacketEntities: GetEntServerClass failed for ent 2048."
    assert crash.classify(1, [*STARTUP, line, "more"]).detail.endswith(line)


def test_messages_from_an_earlier_life_of_the_server_do_not_count():
    lines = ["Host_Error: an old one", *STARTUP, "Server is hibernating"]
    assert crash.classify(-signal.SIGKILL, lines).kind == crash.UNKNOWN


@pytest.mark.parametrize(
    "status, words",
    [
        (-signal.SIGKILL, "killed by SIGKILL (signal 9)"),
        (139, "killed by SIGSEGV (signal 11)"),
        (1, "exit status 1"),
        (None, "exit status unknown"),
    ],
)
def test_exit_statuses_are_described_in_words(status, words):
    assert crash.describe_status(status).startswith(words)


# --- processes ------------------------------------------------------------------------------


@pytest.mark.slow
def test_check_follows_a_server_from_not_installed_to_alive(spec, config, lines):
    assert monitor.check(spec).state == monitor.NOT_INSTALLED
    assert l4d2.install(spec, lines, config=config) == 0
    assert monitor.check(spec).state == monitor.STOPPED
    assert l4d2.start(spec, lines, config=config) == 0
    checked = monitor.check(spec)
    assert (checked.state, checked.pid) == (monitor.ALIVE, server_pid(spec))
    assert checked.started == psutil.Process(checked.pid).create_time()


@pytest.mark.slow
def test_a_launched_server_killed_9_is_reaped_at_once_and_its_status_reported(running, heard):
    pid = server_pid(running)
    os.kill(pid, signal.SIGKILL)
    event = wait_for(lambda: next((e for e in heard if e.pid == pid), None))
    assert event.status == -signal.SIGKILL
    assert event.install_dir == srcds.files_for(running).install_dir
    checked = monitor.check(running)
    assert (checked.state, checked.pid, checked.exit_status) == (monitor.DEAD, pid, -signal.SIGKILL)
    assert our_zombies() == []


@pytest.mark.slow
def test_a_simulated_segfault_is_death_by_sigsegv_and_classified_as_such(running, heard):
    pid = server_pid(running)
    assert srcds.send_console(srcds.files_for(running).fifo, "sim_crash segfault")
    event = wait_for(lambda: next((e for e in heard if e.pid == pid), None))
    assert event.status == -signal.SIGSEGV
    lines = crash.tail_lines(srcds.files_for(running).log)
    assert crash.classify(event.status, lines).kind == crash.SEGFAULT


@pytest.mark.slow
def test_a_stop_removes_the_pid_file_so_it_never_looks_dead(running, config, lines):
    assert l4d2.stop(running, lines, config=config) == 0
    assert monitor.check(running).state == monitor.STOPPED


@pytest.mark.slow
def test_a_server_another_process_launched_dies_with_an_unknown_status(installed, config):
    # A worker that started the server and then exited: the server lives on, nobody here is its parent.
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from hostctl import l4d2
        from hostctl.config import HostConfig
        spec = l4d2.ServerSpec(id=1, install_dir=Path({str(installed.install_dir)!r}), port={installed.port})
        config = HostConfig(root=Path({str(config.root)!r}), steamcmd=None, simulate=True)
        raise SystemExit(l4d2.start(spec, lambda *_: None, config=config))
        """
    )
    assert subprocess.run([sys.executable, "-c", script], cwd=ROOT, timeout=60).returncode == 0
    pid = server_pid(installed)
    assert monitor.check(installed).state == monitor.ALIVE
    os.kill(pid, signal.SIGKILL)
    checked = wait_for(lambda: (c := monitor.check(installed)).state == monitor.DEAD and c)
    assert (checked.pid, checked.exit_status) == (pid, None)


@pytest.mark.slow
def test_an_exit_status_being_reaped_is_waited_for_not_lost(tmp_path):
    # A dead server looks dead (a zombie) a moment before its waiter thread reaps it;
    # a check in that moment must still learn how it ended.
    class SlowToReap:
        pid = 424242

        def wait(self):
            time.sleep(0.3)
            return -signal.SIGSEGV

    exits.watch(SlowToReap(), tmp_path, on_reaped=lambda pid: None)
    ended = exits.last_exit(tmp_path, SlowToReap.pid, wait=5.0)
    assert ended is not None and ended.status == -signal.SIGSEGV


def test_forget_removes_only_the_pid_file_of_that_dead_process(running, heard):
    pid = server_pid(running)
    assert not monitor.forget(running, pid)  # alive: kept
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: any(e.pid == pid for e in heard))
    assert not monitor.forget(running, pid + 1)  # another process: kept
    assert monitor.forget(running, pid)
    assert monitor.check(running).state == monitor.STOPPED


@pytest.mark.slow
def test_a_failing_subscriber_does_not_keep_the_others_from_hearing(running, heard):
    def broken(event):
        raise RuntimeError("listener bug")

    monitor.on_exit(broken)
    try:
        pid = server_pid(running)
        os.kill(pid, signal.SIGKILL)
        wait_for(lambda: any(e.pid == pid for e in heard))
    finally:
        monitor.off_exit(broken)


# --- A2S and usage --------------------------------------------------------------------------


@pytest.mark.slow
def test_query_many_reads_map_and_players_and_says_none_for_silence(running, udp_port):
    silent = udp_port + 1 if udp_port < 65535 else udp_port - 1
    readings = query_many([running.port, silent], timeout=1.0)
    reading = readings[running.port]
    assert (reading.map, reading.player_count, reading.max_players) == ("c1m1_hotel", 3, 8)
    assert [p.name for p in reading.players] == ["Coachella", "witch_please", "[TTV]Zoey"]
    assert all(p.seconds > 0 for p in reading.players)
    assert readings[silent] is None


@pytest.mark.slow
def test_a_hung_server_is_alive_but_answers_no_query(running):
    assert srcds.send_console(srcds.files_for(running).fifo, "sim_hang")
    wait_for(lambda: query_many([running.port], timeout=0.5)[running.port] is None)
    assert monitor.check(running).state == monitor.ALIVE


@pytest.mark.slow
def test_usage_adds_up_the_whole_process_tree(tmp_path):
    child = "import time; x = bytearray(40 * 2**20); time.sleep(60)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"]
    )
    try:
        wait_for(lambda: psutil.Process(parent.pid).children())
        child_proc = psutil.Process(parent.pid).children()[0]
        wait_for(lambda: child_proc.memory_info().rss > 40 * 2**20)
        tree = monitor.usage([parent.pid, 999_999_999])
        assert set(tree) == {parent.pid}
        assert tree[parent.pid].rss > psutil.Process(parent.pid).memory_info().rss + 40 * 2**20
        assert tree[parent.pid].cpu_seconds > 0
    finally:
        for proc in psutil.Process(parent.pid).children(recursive=True):
            proc.kill()
        parent.kill()
        parent.wait()


@pytest.mark.slow
def test_a_servers_exit_waiter_ends_with_it(running, config, lines):
    name = f"srcds-{server_pid(running)}"
    assert [t for t in threading.enumerate() if t.name == name]
    assert l4d2.stop(running, lines, config=config) == 0
    wait_for(lambda: not [t for t in threading.enumerate() if t.name == name])


def test_a_crash_report_shows_console_lines_as_people_see_them_with_no_nul_in_them(tmp_path):
    from hostctl import console, crash

    log = tmp_path / "console.log"
    log.write_bytes(b"./srcds_run: line 345:  4242 Segmentation fault      (core dumped) (an earlier run)\n")
    console.write_marker(log, f"{console.START_NOTE} 2026-11-27 10:00:00 UTC")
    with open(log, "ab") as out:
        out.write(b"map c1m1_hotel\nnul\x00byte\n")
    lines = crash.tail_lines(log)
    assert lines[-3:] == [f"{console.START_NOTE} 2026-11-27 10:00:00 UTC", "map c1m1_hotel", "nul\ufffdbyte"]
    # Only this run's lines decide why it died: the earlier run's segfault is not this one's.
    assert crash.classify(None, lines).kind == crash.UNKNOWN
