"""Fixtures for hostctl tests: no database, every started process cleaned up."""

from __future__ import annotations

import os
import signal
import threading

import psutil
import pytest

from hostctl import l4d2
from hostctl.config import HostConfig
from hostctl.l4d2 import ServerSpec
from support.ports import free_game_port


class Lines:
    """A sink that records (stream, text) pairs."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def __call__(self, stream: str, text: str) -> None:
        self.items.append((stream, text))

    def of(self, stream: str) -> list[str]:
        return [text for s, text in self.items if s == stream]

    @property
    def text(self) -> str:
        return "\n".join(text for _, text in self.items)


@pytest.fixture
def lines() -> Lines:
    return Lines()


def still_running(pids) -> list[int]:
    """The pids that are still live processes (a zombie has finished)."""
    running = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                running.append(pid)
        except psutil.NoSuchProcess:
            pass
    return running


def our_zombies() -> list[int]:
    """Children of this test process that exited but were never reaped."""
    return [p.pid for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE]


@pytest.fixture
def no_leaks():
    """Fails the test if it leaves threads or file descriptors behind."""
    threads = threading.active_count()
    fds = len(os.listdir("/proc/self/fd"))
    yield
    assert threading.active_count() == threads
    # Fewer is no leak: a database connection of an earlier test may close meanwhile.
    assert len(os.listdir("/proc/self/fd")) <= fds
    assert our_zombies() == []


@pytest.fixture
def pid_file(tmp_path):
    """A file test children append their pids to; leftovers are killed afterwards."""
    path = tmp_path / "pids"
    path.touch()
    yield path
    for pid in still_running(int(p) for p in path.read_text().split()):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture
def udp_port() -> int:
    """The game port (srcds binds UDP and TCP on it), below the kernel's ephemeral range: a port
    the kernel hands out can be taken by an outgoing TCP connection before the simulator binds it."""
    return free_game_port()


@pytest.fixture
def config(tmp_path) -> HostConfig:
    return HostConfig(
        root=tmp_path / "servers",
        steamcmd=None,
        simulate=True,
        sim_seconds=0.3,
        stop_grace=1,
        start_timeout=10,
        warning_seconds=0,  # the simulator has 3 players: tests of the warning ask for one
    )


@pytest.fixture
def spec(config, udp_port):
    spec = ServerSpec(id=1, install_dir=config.root / "1", port=udp_port, name="Test server")
    yield spec
    # Kill whatever server the test left running, by its pid file.
    pid_file = config.root / "1" / "srcds.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().split()[0])
        for running in still_running([pid]):
            os.killpg(running, signal.SIGKILL)
            try:
                psutil.Process(running).wait(5)
            except psutil.NoSuchProcess:
                pass  # reaped already, by the waiter thread hostctl gives every server it launches


@pytest.fixture
def installed(spec, config):
    assert l4d2.install(spec, lambda *_: None, config=config) == 0
    return spec


@pytest.fixture
def running(installed, config, lines):
    assert l4d2.start(installed, lines, config=config) == 0, lines.text
    return installed


def server_pid(spec) -> int:
    return int((spec.install_dir / "srcds.pid").read_text().split()[0])
