"""Updating a running server: warn the players, stop, update, start, as one operation."""

from __future__ import annotations

import dataclasses
import threading
import time

import pytest

from hostctl import builds, l4d2, warning
from hostctl.errors import HostError
from hostctl.process import CancelToken


@pytest.fixture
def quick(config):
    """The host config with a short warning before the update."""
    return dataclasses.replace(config, warning_seconds=1.5)


def newer_build_out(spec, monkeypatch) -> str:
    """Steam (the simulator) has a build newer than the installed one; returns it."""
    build = str(int(builds.installed_build(spec.install_dir)) + 1)
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD", build)
    return build


def console(spec) -> str:
    return (spec.install_dir / "console.log").read_text()


def console_shows(spec, text, timeout=5.0) -> bool:
    """True once the running server has printed `text` (it reads its console on its own time)."""
    deadline = time.monotonic() + timeout
    while text not in console(spec):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_running_server_is_warned_stopped_updated_and_started_on_the_new_build(
    running, quick, lines, monkeypatch
):
    new = newer_build_out(running, monkeypatch)
    assert l4d2.update(running, lines, config=quick) == 0
    assert lines.of("phase") == ["Warn players", "Stop", "Update", "Start"]
    assert "3 player(s) on: warning in the console 1.5 s ahead." in lines.of("system")
    assert "Console: The server restarts in 1.5 seconds for a game update." in console(running)
    assert "Console: Restarting now for a game update." in console(running)
    assert builds.installed_build(running.install_dir) == new
    assert l4d2.status(running, config=quick).state == "running"
    percents = [int(text) for text in lines.of("progress")]
    assert percents == sorted(percents) and percents[-1] == 100, "one bar for the whole job, only growing"


def test_nobody_on_the_server_means_no_warning_and_no_wait(installed, quick, lines, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_PLAYERS", "BOT:Coach,BOT:Ellis")  # bots do not count
    assert l4d2.start(installed, lines, config=quick) == 0
    newer_build_out(installed, monkeypatch)
    assert l4d2.update(installed, lines, config=quick) == 0
    assert "Nobody is on the server: no warning needed." in lines.of("system")
    assert "Console: The server restarts" not in console(installed)
    assert l4d2.status(installed, config=quick).state == "running"


def test_a_cancel_during_the_warning_leaves_the_server_running_untouched(running, config, lines, monkeypatch):
    newer_build_out(running, monkeypatch)
    long_warning = dataclasses.replace(config, warning_seconds=30)
    token = CancelToken()
    threading.Timer(0.5, token.cancel).start()
    pid_before = (running.install_dir / "srcds.pid").read_text()
    assert l4d2.update(running, lines, token, config=long_warning) == 1
    assert lines.of("phase") == ["Warn players"]
    assert console_shows(running, "Console: Restart cancelled.")
    assert "the server keeps running, nothing was updated" in lines.text
    assert (running.install_dir / "srcds.pid").read_text() == pid_before


def test_a_failed_update_still_brings_the_server_back_and_fails(running, quick, lines, monkeypatch):
    newer_build_out(running, monkeypatch)
    monkeypatch.setenv("HOSTCTL_SIM_FAIL", "disk")
    assert l4d2.update(running, lines, config=quick) != 0
    assert lines.of("phase") == ["Warn players", "Stop", "Update", "Start"]
    assert "The update failed: starting the server again on the files it has." in lines.of("system")
    assert l4d2.status(running, config=quick).state == "running"


def test_install_on_a_running_server_is_refused_with_a_clear_reason(running, config, lines):
    with pytest.raises(HostError, match="The server is running: stop it before installing"):
        l4d2.install(running, lines, config=config)
    assert l4d2.status(running, config=config).state == "running"


def test_everyone_leaving_ends_the_warning_early(tmp_path, lines):
    counts = iter([2, 0])
    fifo = tmp_path / "console.fifo"
    warning_seconds = 60.0
    ended = warning.warn_players(
        0,
        fifo,
        lines,
        CancelToken(),
        seconds=warning_seconds,
        reason="for a test",
        count=lambda port: next(counts),
    )
    assert ended is True
    # Nobody reads this console, so nobody can be told: no point in waiting.
    assert "Could not write to the server console: the players were not warned." in lines.of("system")


def test_the_warning_waits_only_until_everyone_left(tmp_path, lines, monkeypatch):
    monkeypatch.setattr(warning, "RECOUNT_EVERY", 0.2)
    monkeypatch.setattr(warning.srcds, "send_console", lambda fifo, text: True)
    counts = iter([1, 1, 0])
    finished = threading.Event()

    def warn():
        warning.warn_players(
            0, tmp_path / "fifo", lines, None, seconds=60, reason="now", count=lambda p: next(counts)
        )
        finished.set()

    threading.Thread(target=warn, daemon=True).start()
    assert finished.wait(10), "the warning should end once the server is empty, long before 60 s"
    assert "Everyone has left: going on now." in lines.of("system")


def test_an_update_with_nothing_new_touches_no_process_and_says_so(running, quick, lines):
    pid_before = (running.install_dir / "srcds.pid").read_text()
    installed = builds.installed_build(running.install_dir)
    started = time.monotonic()
    assert l4d2.update(running, lines, config=quick) == 0
    assert time.monotonic() - started < 5, "an update with nothing to do finishes in seconds"
    assert f"Already up to date: build {installed} is the latest." in lines.text
    assert "stop the server and run Install" in lines.text, "the way to repair files is named"
    assert lines.of("phase") == [], "no warning, no stop, no steamcmd download"
    assert "Console: The server restarts" not in console(running)
    assert "Update state" not in lines.text
    assert (running.install_dir / "srcds.pid").read_text() == pid_before


def test_a_build_the_panel_knows_is_newer_is_downloaded_without_asking_steamcmd_first(
    installed, quick, lines, monkeypatch
):
    old = builds.installed_build(installed.install_dir)
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD", str(int(old) + 1))
    behind = dataclasses.replace(installed, latest_build=str(int(old) + 1))
    assert l4d2.update(behind, lines, config=quick) == 0
    assert f"Build {int(old) + 1} is out (installed: {old}): updating." in lines.text
    assert "asking steamcmd for the latest build" not in lines.text
    assert builds.installed_build(installed.install_dir) == str(int(old) + 1)


def test_a_stale_up_to_date_from_the_panel_is_checked_with_steamcmd(installed, quick, lines, monkeypatch):
    old = builds.installed_build(installed.install_dir)
    monkeypatch.setenv("HOSTCTL_SIM_LATEST_BUILD", str(int(old) + 1))
    stale = dataclasses.replace(installed, latest_build=old)  # the panel's hour-old answer
    assert l4d2.update(stale, lines, config=quick) == 0
    assert "Already up to date" not in lines.text
    assert builds.installed_build(installed.install_dir) == str(int(old) + 1)


# --- restart and stop warn the players too -------------------------------------------


def test_a_restart_with_two_players_warns_them_in_the_console_with_a_countdown(
    installed, config, lines, monkeypatch
):
    monkeypatch.setattr(warning, "REMINDERS", (1,))
    monkeypatch.setenv("HOSTCTL_SIM_PLAYERS", "Coachella,witch_please,BOT:Nick")
    assert l4d2.start(installed, lines, config=config) == 0
    warned = dataclasses.replace(config, warning_seconds=2)
    started = time.monotonic()
    assert l4d2.restart(installed, lines, config=warned) == 0
    assert time.monotonic() - started >= 2, "the players got their two seconds"
    assert lines.of("phase") == ["Warn players", "Stop", "Start"]
    assert "2 player(s) on: warning in the console 2 s ahead." in lines.of("system")
    countdown = [text for text in lines.of("system") if text.startswith("Console: say")]
    assert countdown == [
        'Console: say "The server restarts in 2 seconds."',
        'Console: say "The server restarts in 1 second."',
        'Console: say "Restarting now."',
    ]
    assert "Console: The server restarts in 2 seconds." in console(installed)  # what players read
    assert l4d2.status(installed, config=config).state == "running"


def test_a_restart_with_only_bots_on_does_not_wait(installed, config, lines, monkeypatch):
    monkeypatch.setenv("HOSTCTL_SIM_PLAYERS", "BOT:Coach,BOT:Ellis")
    assert l4d2.start(installed, lines, config=config) == 0
    warned = dataclasses.replace(config, warning_seconds=30)
    started = time.monotonic()
    assert l4d2.restart(installed, lines, config=warned) == 0
    assert time.monotonic() - started < 15, "no 30 s wait for bots"
    assert "Nobody is on the server: no warning needed." in lines.of("system")
    assert "Console: The server restarts" not in console(installed)


def test_a_stop_warns_players_that_the_server_shuts_down(running, config, lines):
    warned = dataclasses.replace(config, warning_seconds=1)
    assert l4d2.stop(running, lines, config=warned) == 0
    assert lines.of("phase") == ["Warn players", "Stop"]
    assert 'Console: say "The server shuts down in 1 second."' in lines.of("system")
    assert 'Console: say "Shutting down now."' in lines.of("system")
    assert l4d2.status(running, config=config).state == "stopped"


def test_go_on_now_ends_the_warning_of_a_restart_early(running, config, lines):
    hurry = CancelToken()
    threading.Timer(0.5, hurry.cancel).start()
    started = time.monotonic()
    long_warning = dataclasses.replace(config, warning_seconds=60)
    assert l4d2.restart(running, lines, config=long_warning, hurry=hurry) == 0
    assert time.monotonic() - started < 20, "not the 60 s the warning would take"
    assert "Asked to go on now: the rest of the warning is skipped." in lines.of("system")
    assert 'Console: say "Restarting now."' in lines.of("system")


def test_a_cancel_during_a_stops_warning_leaves_the_server_running(running, config, lines):
    token = CancelToken()
    threading.Timer(0.5, token.cancel).start()
    pid_before = (running.install_dir / "srcds.pid").read_text()
    assert l4d2.stop(running, lines, token, config=dataclasses.replace(config, warning_seconds=30)) == 1
    assert "Cancel requested during the warning: the server keeps running, no stop." in lines.of("system")
    assert console_shows(running, "Console: Shutdown cancelled.")
    assert (running.install_dir / "srcds.pid").read_text() == pid_before
