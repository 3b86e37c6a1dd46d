"""hostctl.logspace: a running server's console.log stays within its disk budget, and no line
is lost or read twice: the stored part is released in place (holes), positions stay valid."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

import pytest

from hostctl import console, logspace
from hostctl.console import ConsoleReader, Position
from hostctl.logspace import ConsoleSpace

MIB = 1024 * 1024
SHM = Path("/dev/shm")


def filesystems():
    """The test's folder (ext4 here), and tmpfs where there is one."""
    yield pytest.param(None, id="tmp_path")
    if SHM.is_dir() and os.access(SHM, os.W_OK):
        yield pytest.param(SHM, id="tmpfs")


@pytest.fixture(params=list(filesystems()))
def log(request, tmp_path):
    if request.param is None:
        yield tmp_path / "console.log"
        return
    with tempfile.TemporaryDirectory(dir=request.param) as folder:
        yield Path(folder) / "console.log"


class Server:
    """Writes console.log like srcds: one O_APPEND descriptor, held open all along."""

    def __init__(self, path: Path) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        self.printed = 0  # lines
        self.size = 0  # bytes

    def print_lines(self, count: int) -> None:
        data = "".join(f"tick {self.printed + i} {'x' * 60}\n" for i in range(1, count + 1)).encode()
        os.write(self.fd, data)
        self.printed += count
        self.size += len(data)

    def close(self) -> None:
        os.close(self.fd)


def disk_bytes(path: Path) -> int:
    return os.stat(path).st_blocks * 512


def test_a_server_printing_16_times_its_budget_stays_within_it_on_disk_and_every_line_is_read_once(log):
    limit = 1 * MIB
    server, reader, space = Server(log), ConsoleReader(log), ConsoleSpace(log, limit)
    read, most, released = [], 0, 0
    while server.printed < 250_000:  # 72 bytes a line: 18 MB printed
        server.print_lines(1000)  # ~72 KB between two passes of the pump
        rows = reader.read()
        read += [row.text for row in rows]
        released += space.stored(rows[-1].end)  # as the pump does once the rows are committed
        most = max(most, disk_bytes(log))
    server.close()
    assert [int(text.split()[1]) for text in read] == list(range(1, 250_001))
    assert log.stat().st_size == server.size  # positions never moved: the apparent size is all of it
    assert released > 15 * MIB
    assert most <= limit, f"console.log took {most} bytes on disk, over its {limit}"
    assert disk_bytes(log) <= limit


def test_the_last_stored_bytes_are_kept_and_nothing_past_the_stored_position_is_touched(log):
    server = Server(log)
    server.print_lines(40_000)  # 2.9 MB
    server.close()
    data = log.read_bytes()
    stored_up_to = 2 * MIB + 123
    space = ConsoleSpace(log, 1 * MIB)
    assert space.stored(Position(console.file_id(log), stored_up_to)) > 0
    kept_from = stored_up_to - space.keep
    after = log.read_bytes()
    assert after[kept_from:] == data[kept_from:]
    assert after[: kept_from - 4096] == bytes(kept_from - 4096)  # released: reads as zeros


def test_a_reader_behind_the_released_part_skips_the_hole_with_a_note_and_reads_no_zeros(log):
    server = Server(log)
    server.print_lines(40_000)
    server.close()
    ConsoleSpace(log, 1 * MIB).stored(Position(console.file_id(log), log.stat().st_size))
    late = ConsoleReader(log, Position(console.file_id(log), 0))  # e.g. a cursor from an old backup
    rows = late.read(final=True)
    assert rows[0].stream == "system" and "bytes of console.log were released" in rows[0].text
    rows += late.read(final=True) + late.read(final=True)
    assert not any("\x00" in row.text for row in rows)
    assert rows[-1].text.startswith("tick 40000 ")
    assert rows[-1].end.offset == log.stat().st_size


def test_nothing_is_released_until_stored_bytes_reach_half_the_budget(log):
    server = Server(log)
    server.print_lines(10_000)  # 720 KB
    server.close()
    space = ConsoleSpace(log, 4 * MIB)
    assert space.stored(Position(console.file_id(log), log.stat().st_size)) == 0
    assert b"\x00" not in log.read_bytes()


def test_a_position_in_a_file_rotated_since_releases_nothing_of_the_new_one(log):
    server = Server(log)
    server.print_lines(40_000)
    server.close()
    old = Position(console.file_id(log), log.stat().st_size)
    console.rotate(log, limit=1)
    fresh = Server(log)
    fresh.print_lines(40_000)
    fresh.close()
    assert ConsoleSpace(log, 1 * MIB).stored(old) == 0
    assert b"\x00" not in log.read_bytes()


def test_a_filesystem_that_cannot_punch_holes_is_reported_once_and_nothing_else_changes(log, monkeypatch):
    def refuse(fd, offset, length):
        raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))

    monkeypatch.setattr(logspace, "punch_hole", refuse)
    server = Server(log)
    server.print_lines(40_000)
    space = ConsoleSpace(log, 1 * MIB)
    with pytest.raises(logspace.Refused, match="cannot release parts of"):
        space.stored(Position(console.file_id(log), log.stat().st_size))
    server.print_lines(40_000)
    server.close()
    assert space.stored(Position(console.file_id(log), log.stat().st_size)) == 0  # said once
    assert b"\x00" not in log.read_bytes()
