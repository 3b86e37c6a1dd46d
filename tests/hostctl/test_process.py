"""hostctl.process: streaming output, exit codes, and stopping whole process trees."""

from __future__ import annotations

import signal
import sys
import threading
import time

import pytest

from hostctl.lines import MAX_LINE
from hostctl.process import CancelToken, run_command

from .conftest import still_running

MB = 1024 * 1024


def py(code: str, *args) -> list[str]:
    return [sys.executable, "-c", code, *map(str, args)]


# Child programs for the cancel tests. Each appends its pid to the file named by
# argv[1] and prints a line once it is ready, so the test knows whom to look for.
RECORD = "import os, signal, subprocess, sys, time\nopen(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
IGNORE_TERM = "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
READY_AND_SLEEP = "print('ready', flush=True)\ntime.sleep(60)\n"
SPAWN_GRANDCHILD = "subprocess.Popen([sys.executable, '-c', sys.argv[2], sys.argv[1]])\ntime.sleep(60)\n"


def cancel_when_ready(token: CancelToken, lines):
    """An on_line that records, and cancels once a child reports ready."""
    cancelled_at = []

    def on_line(stream, text):
        lines(stream, text)
        if text == "ready" and not token.cancelled:
            cancelled_at.append(time.monotonic())
            token.cancel()

    return on_line, cancelled_at


def recorded_pids(pid_file, count: int) -> list[int]:
    pids = [int(p) for p in pid_file.read_text().split()]
    assert len(pids) == count
    return pids


def test_output_of_both_streams_is_delivered_in_order(lines, no_leaks):
    code = (
        "import sys\n"
        "for i in range(3):\n"
        "    print(f'out {i}', flush=True)\n"
        "    print(f'err {i}', file=sys.stderr, flush=True)"
    )
    result = run_command(py(code), on_line=lines)
    assert result == 0
    assert lines.of("stdout") == ["out 0", "out 1", "out 2"]
    assert lines.of("stderr") == ["err 0", "err 1", "err 2"]


def test_ten_megabytes_on_each_stream_do_not_deadlock(lines, no_leaks):
    # stderr is written first and in full: a runner reading only stdout would hang.
    code = (
        "import sys\n"
        "lines = ('x' * 99 + '\\n') * (10 * 2**20 // 100)\n"
        "sys.stderr.write(lines)\n"
        "sys.stdout.write(lines)"
    )
    result = run_command(py(code), on_line=lines)
    assert result == 0
    for stream in ("stdout", "stderr"):
        received = lines.of(stream)
        assert len(received) == 10 * MB // 100
        assert set(received) == {"x" * 99}


def test_invalid_utf8_is_replaced(lines):
    run_command(py("import sys; sys.stdout.buffer.write(b'ok \\xff\\xfe end\\n')"), on_line=lines)
    assert lines.of("stdout") == ["ok \ufffd\ufffd end"]


def test_a_ten_megabyte_line_is_split_into_4096_character_chunks(lines, no_leaks):
    result = run_command(py("import sys; sys.stdout.write('y' * 10 * 2**20 + '\\n')"), on_line=lines)
    assert result == 0
    chunks = lines.of("stdout")
    assert len(chunks) == 10 * MB // MAX_LINE
    assert {len(chunk) for chunk in chunks} == {MAX_LINE}
    assert sum(map(len, chunks)) == 10 * MB


def test_carriage_return_redraws_become_lines_and_the_last_line_needs_no_newline(lines):
    code = "import sys; sys.stdout.write(' 10%\\r 50%\\r100%\\r\\ndone\\n\\nlast')"
    run_command(py(code), on_line=lines)
    assert lines.of("stdout") == [" 10%", " 50%", "100%", "done", "", "last"]


@pytest.mark.parametrize(
    ("code", "expected"),
    [("pass", 0), ("raise SystemExit(3)", 3), ("import os; os.kill(os.getpid(), 15)", -signal.SIGTERM)],
)
def test_exit_codes_are_reported_like_popen(code, expected, lines):
    result = run_command(py(code), on_line=lines)
    assert result == expected
    assert not result.cancelled and not result.timed_out


def test_a_string_command_is_refused():
    with pytest.raises(TypeError):
        run_command("echo hi", on_line=print)


def test_cancel_stops_a_term_honouring_child_quickly(lines, pid_file, no_leaks):
    token = CancelToken()
    on_line, cancelled_at = cancel_when_ready(token, lines)
    result = run_command(py(RECORD + READY_AND_SLEEP, pid_file), on_line=on_line, cancel=token, grace=5)
    assert time.monotonic() - cancelled_at[0] < 0.5
    assert result == -signal.SIGTERM and result.cancelled
    assert "Cancel requested: sent SIGTERM to the process group" in lines.of("system")[0]
    assert still_running(recorded_pids(pid_file, 1)) == []


def test_cancel_kills_a_term_ignoring_child_after_the_grace(lines, pid_file, no_leaks):
    token = CancelToken()
    on_line, cancelled_at = cancel_when_ready(token, lines)
    code = RECORD + IGNORE_TERM + READY_AND_SLEEP
    result = run_command(py(code, pid_file), on_line=on_line, cancel=token, grace=0.5)
    assert 0.5 <= time.monotonic() - cancelled_at[0] < 2
    assert result == -signal.SIGKILL and result.cancelled
    assert lines.of("system")[1] == "Grace period 0.5s expired: sent SIGKILL to 1 processes"
    assert still_running(recorded_pids(pid_file, 1)) == []


def test_cancel_kills_a_term_ignoring_grandchild_in_the_group(lines, pid_file, no_leaks):
    token = CancelToken()
    on_line, _ = cancel_when_ready(token, lines)
    grandchild = RECORD + IGNORE_TERM + READY_AND_SLEEP
    result = run_command(
        py(RECORD + SPAWN_GRANDCHILD, pid_file, grandchild), on_line=on_line, cancel=token, grace=0.5
    )
    assert result.cancelled
    assert "SIGKILL" in lines.of("system")[-1]
    assert still_running(recorded_pids(pid_file, 2)) == []


def test_cancel_kills_setsid_grandchild(lines, pid_file, no_leaks):
    token = CancelToken()
    on_line, _ = cancel_when_ready(token, lines)
    # The grandchild leaves the process group, so a group signal misses it.
    grandchild = "import os\nos.setsid()\n" + RECORD + IGNORE_TERM + READY_AND_SLEEP
    result = run_command(
        py(RECORD + SPAWN_GRANDCHILD, pid_file, grandchild), on_line=on_line, cancel=token, grace=0.5
    )
    assert result.cancelled
    assert "and 1 processes outside it" in lines.of("system")[0]
    assert still_running(recorded_pids(pid_file, 2)) == []


# A daemon the classic way: fork, setsid, fork again, the middle process exits at once
# (so the daemon is nobody's descendant any more), stdio closed, SIGTERM ignored.
DAEMONIZE = (
    "import os, signal, sys, time\n"
    "open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
    "if os.fork() == 0:\n"
    "    os.setsid()\n"
    "    if os.fork() == 0:\n"
    "        signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "        null = os.open(os.devnull, os.O_RDWR)\n"
    "        for fd in (0, 1, 2):\n"
    "            os.dup2(null, fd)\n"
    "        open(sys.argv[1], 'a').write(f'{os.getpid()}\\n')\n"
    "        time.sleep(60)\n"
    "    os._exit(0)\n"
    "os.wait()\n"
    "while len(open(sys.argv[1]).read().split()) < 2:\n"
    "    time.sleep(0.01)\n"
)


def test_cancel_kills_a_double_forked_term_ignoring_daemon_with_closed_stdio(lines, pid_file, no_leaks):
    token = CancelToken()
    on_line, cancelled_at = cancel_when_ready(token, lines)
    result = run_command(py(DAEMONIZE + READY_AND_SLEEP, pid_file), on_line=on_line, cancel=token, grace=0.5)
    assert result.cancelled
    assert time.monotonic() - cancelled_at[0] < 0.5 + 1
    assert still_running(recorded_pids(pid_file, 2)) == []


def test_a_daemon_left_behind_by_a_command_that_ended_is_killed_with_it(lines, pid_file, no_leaks):
    result = run_command(py(DAEMONIZE, pid_file), on_line=lines, cancel=CancelToken(), grace=0.5)
    assert result == 0 and not result.cancelled
    assert "left 1 process(es) running after it ended" in lines.of("system")[-1]
    assert still_running(recorded_pids(pid_file, 2)) == []


def test_descendants_holding_the_output_open_are_killed_after_the_child_exits(lines, pid_file, no_leaks):
    grandchild = "import os\nos.setsid()\n" + RECORD + READY_AND_SLEEP
    # The child exits normally while its grandchild still holds stdout and stderr.
    child = RECORD + "subprocess.Popen([sys.executable, '-c', sys.argv[2], sys.argv[1]])\ntime.sleep(0.5)"
    started = time.monotonic()
    result = run_command(py(child, pid_file, grandchild), on_line=lines, cancel=CancelToken())
    assert result == 0 and not result.cancelled
    assert time.monotonic() - started < 5
    assert "Process exited but its output stayed open" in lines.of("system")[0]
    assert still_running(recorded_pids(pid_file, 2)) == []


def test_timeout_stops_the_child_like_a_cancel(lines, pid_file, no_leaks):
    result = run_command(py(RECORD + READY_AND_SLEEP, pid_file), on_line=lines, timeout=0.5, grace=0.5)
    assert result == -signal.SIGTERM
    assert result.timed_out and not result.cancelled
    assert lines.of("system")[0].startswith("Timed out after 0.5s: sent SIGTERM to the process group")
    assert still_running(recorded_pids(pid_file, 1)) == []


def test_cancel_token_is_shared_safely_between_threads():
    token = CancelToken()
    assert not token.cancelled
    assert token.wait(0.01) is False
    woke = []
    waiter = threading.Thread(target=lambda: woke.append(token.wait(5)))
    waiter.start()
    cancellers = [threading.Thread(target=token.cancel) for _ in range(8)]
    for thread in cancellers:
        thread.start()
    for thread in [*cancellers, waiter]:
        thread.join()
    assert woke == [True]
    assert token.cancelled and token.wait(0) is True


def test_output_keeps_flowing_while_a_cancelled_child_shuts_down(lines, no_leaks):
    token = CancelToken()
    on_line, _ = cancel_when_ready(token, lines)
    code = (
        "import signal, sys, time\n"
        "def bye(*_):\n    print('cleaning up', flush=True)\n    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\nprint('ready', flush=True)\ntime.sleep(60)"
    )
    result = run_command(py(code), on_line=on_line, cancel=token, grace=5)
    assert result == 0 and result.cancelled
    assert lines.of("stdout") == ["ready", "cleaning up"]


# --- once the child's output is closed, its exit (or a cancel) still ends a wait at once ---

CLOSE_OUTPUT_THEN = "import os, sys, time\nos.close(1); os.close(2)\ntime.sleep(float(sys.argv[1]))\n"


def supervisor_with_closed_output(seconds):
    import subprocess

    from hostctl.process import _Supervisor

    proc = subprocess.Popen(py(CLOSE_OUTPUT_THEN, seconds), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    supervisor = _Supervisor(proc, lambda stream, text: None, mark=None)
    while supervisor.open_streams:
        supervisor.pump(1.0)
    return supervisor


def test_a_wait_after_the_output_closed_ends_when_the_child_exits_not_at_its_timeout(no_leaks):
    supervisor = supervisor_with_closed_output(0.3)
    try:
        # No line can wake this wait any more: before the fix it slept its whole timeout
        # (here the test's own timeout would end it first).
        supervisor.wait(600)
        assert supervisor.exited()
    finally:
        supervisor.close()


def test_a_cancel_wakes_a_wait_on_a_child_whose_output_is_closed(no_leaks):
    supervisor = supervisor_with_closed_output(60)
    try:
        threading.Timer(0.3, supervisor.interrupt).start()
        supervisor.wait(600)
        assert not supervisor.exited()  # woken by the cancel, not by an exit
    finally:
        supervisor.close()


def test_the_mark_scan_finds_processes_by_their_exact_mark_wherever_they_are():
    import os
    import subprocess

    from hostctl.proctree import MARK_VAR, marked

    def sleeper(mark):
        return subprocess.Popen(["sleep", "30"], env={**os.environ, MARK_VAR: mark}, start_new_session=True)

    ours, longer = sleeper("l4d2-test-job-1"), sleeper("l4d2-test-job-12")
    try:
        assert [p.pid for p in marked("l4d2-test-job-1")] == [ours.pid]
        ours.kill()
        ours.wait()
        assert marked("l4d2-test-job-1") == []
    finally:
        for proc in (ours, longer):
            proc.kill()
            proc.wait()
