"""A server's files on the game host: other local accounts read none of them, whatever the
umask, and a start rotates a console.log over its budget without a line lost or repeated."""

from __future__ import annotations

import dataclasses
import os
import stat
from contextlib import contextmanager

import pytest

from hostctl import console, l4d2
from hostctl.console import ConsoleReader
from hostctl.errors import HostError


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def test_install_and_start_leave_nothing_for_other_local_accounts_even_with_umask_0(spec, config, lines):
    assert not config.root.exists()  # HOSTCTL_ROOT made by the panel
    with umask(0):
        assert l4d2.install(spec, lines, config=config) == 0
        assert l4d2.start(spec, lines, config=config) == 0
    home = spec.install_dir
    assert mode(config.root) == 0o750
    assert mode(home) == 0o750
    assert mode(home / "console.log") == 0o640
    assert mode(home / "srcds.pid") == 0o640
    assert mode(home / "console.fifo") == 0o600  # whoever reads it takes the server's commands
    assert mode(home / "left4dead2" / "cfg" / "server.cfg") == 0o600
    assert l4d2.stop(spec, lines, config=config) == 0


def test_a_start_tightens_what_an_older_version_left_open(installed, config, lines):
    home = installed.install_dir
    with umask(0):
        home.chmod(0o755)
        for name in ("console.log", "console.log.1"):
            (home / name).write_bytes(b"old line\n")
            (home / name).chmod(0o644)
        os.mkfifo(home / "console.fifo", 0o666)
        assert l4d2.start(installed, lines, config=config) == 0
    assert mode(home) == 0o750
    assert mode(home / "console.log") == 0o640
    assert mode(home / "console.log.1") == 0o640
    assert mode(home / "console.fifo") == 0o600
    assert mode(home / "srcds.pid") == 0o640
    assert l4d2.stop(installed, lines, config=config) == 0


def test_what_an_operator_made_tighter_stays_so(installed, config, lines):
    home = installed.install_dir
    home.chmod(0o700)
    (home / "console.log").write_bytes(b"")
    (home / "console.log").chmod(0o600)
    assert l4d2.start(installed, lines, config=config) == 0
    assert (mode(home), mode(home / "console.log")) == (0o700, 0o600)
    assert l4d2.stop(installed, lines, config=config) == 0


def test_a_start_refuses_to_write_a_console_log_that_links_elsewhere(installed, config, lines, tmp_path):
    # Anything running as the server's user could point it at another file of that user.
    precious = tmp_path / "db.sqlite3"
    precious.write_bytes(b"SQLite format 3\x00")
    (installed.install_dir / "console.log").symlink_to(precious)
    with pytest.raises(HostError, match="console.log in the server's directory is a symbolic link"):
        l4d2.start(installed, lines, config=config)
    assert precious.read_bytes() == b"SQLite format 3\x00"


def test_a_start_rotates_a_console_log_over_its_budget_and_a_reader_half_way_loses_nothing(
    installed, config, lines
):
    log = installed.install_dir / "console.log"
    log.write_bytes(b"".join(b"old %d %s\n" % (i, b"x" * 90) for i in range(1, 1001)))  # 100 KB
    reader = ConsoleReader(log)
    first = reader.read(max_bytes=50_000)  # the pump had stored about half when the server stopped
    small = dataclasses.replace(config, console_log_max_bytes=64 * 1024)
    assert l4d2.start(installed, lines, config=small) == 0
    assert console.rotated(log).exists() and log.stat().st_size < 64 * 1024
    assert l4d2.stop(installed, lines, config=config) == 0
    rows = first
    while more := reader.read(final=True):
        rows += more
    old = [row.text for row in rows if row.text.startswith("old ")]
    assert [int(text.split()[1]) for text in old] == list(range(1, 1001))
    after = [row for row in rows if not row.text.startswith("old ")]
    assert after[0].stream == "system" and after[0].text.startswith(console.START_NOTE)
    assert "Console initialized." in [row.text for row in after]
