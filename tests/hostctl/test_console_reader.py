"""hostctl.console: console.log read by byte position, exactly once, through rotation and truncation."""

from __future__ import annotations

import os

import pytest

from hostctl import console
from hostctl.console import ConsoleReader, Position, redact
from hostctl.lines import MAX_LINE


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "console.log"
    path.touch()
    return path


def append(path, data: bytes) -> None:
    with open(path, "ab") as out:
        out.write(data)


def texts(rows):
    return [(row.stream, row.text) for row in rows]


def test_whole_lines_come_out_and_a_partial_one_waits_for_its_end(log):
    reader = ConsoleReader(log)
    append(log, b"one\r\ntwo\nthr")
    assert texts(reader.read()) == [("stdout", "one"), ("stdout", "two")]
    append(log, b"ee\n")
    assert texts(reader.read()) == [("stdout", "three")]
    assert reader.read() == []


def test_a_carriage_return_at_the_end_of_a_read_waits_to_see_whether_a_newline_follows(log):
    reader = ConsoleReader(log)
    append(log, b"progress 1\rprogress 2\r")
    assert texts(reader.read()) == [("stdout", "progress 1")]
    append(log, b"\ndone\n")
    assert texts(reader.read()) == [("stdout", "progress 2"), ("stdout", "done")]


def test_every_row_says_where_to_resume_so_a_new_reader_from_it_repeats_and_loses_nothing(log):
    data = b"alpha\r\nbeta\rgamma\n\n" + "é".encode() * 3000 + b"\n" + b"x" * (MAX_LINE * 2 + 7) + b"\nlast\n"
    append(log, data)
    rows = ConsoleReader(log).read(final=True)
    everything = texts(rows)
    assert everything[:4] == [("stdout", "alpha"), ("stdout", "beta"), ("stdout", "gamma"), ("stdout", "")]
    assert everything[-1] == ("stdout", "last")
    assert rows[-1].end.offset == len(data)
    for i, row in enumerate(rows):
        assert texts(ConsoleReader(log, row.end).read(final=True)) == everything[i + 1 :]


def test_long_lines_are_cut_like_the_splitter_cuts_them_without_breaking_a_character(log):
    append(log, "é".encode() * MAX_LINE + b"\n")  # 2 bytes each: 2 * MAX_LINE bytes
    rows = ConsoleReader(log).read()
    assert "".join(row.text for row in rows) == "é" * MAX_LINE
    assert all(len(row.text.encode()) <= MAX_LINE and "\ufffd" not in row.text for row in rows)


def test_an_unterminated_line_is_shown_after_it_has_waited(log, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(console.time, "monotonic", lambda: clock[0])
    reader = ConsoleReader(log)
    append(log, b"Enter password: ")
    assert reader.read() == []
    clock[0] += console.PARTIAL_SECONDS
    rows = reader.read()
    assert texts(rows) == [("stdout", "Enter password: ")]
    append(log, b"ok\n")
    assert texts(reader.read()) == [("stdout", "ok")]


def test_panel_markers_are_system_rows_and_no_printed_text_can_forge_one(log):
    append(log, b"[panel] Server started at 10:00 (a player typed this)\n")
    console.write_marker(log, "Server started\nat 10:01")
    append(log, b"Console initialized.\n")
    assert texts(ConsoleReader(log).read()) == [
        ("stdout", "[panel] Server started at 10:00 (a player typed this)"),
        ("system", "Server started at 10:01"),
        ("stdout", "Console initialized."),
    ]


def test_after_a_rotation_the_old_file_is_finished_then_the_new_one_read_from_its_start(log):
    reader = ConsoleReader(log)
    append(log, b"old 1\n")
    assert texts(reader.read()) == [("stdout", "old 1")]
    append(log, b"old 2\nold tail without newline")
    console.rotate(log, limit=1)
    console.write_marker(log, "Server started")
    append(log, b"new 1\n")
    rows = reader.read() + reader.read() + reader.read()
    assert texts(rows) == [
        ("stdout", "old 2"),
        ("stdout", "old tail without newline"),
        ("system", "Server started"),
        ("stdout", "new 1"),
    ]
    assert rows[-1].end == Position(console.file_id(log), log.stat().st_size)


def test_rotation_waits_for_the_limit(log):
    append(log, b"small\n")
    console.rotate(log, limit=1024)
    assert log.read_bytes() == b"small\n" and not console.rotated(log).exists()


def test_a_replaced_file_whose_old_copy_is_gone_is_noted_and_read_from_the_start(log):
    reader = ConsoleReader(log)
    append(log, b"first\n")
    reader.read()
    fresh = log.with_name("fresh")  # made while the old one exists: another inode
    append(fresh, b"second\n")
    os.replace(fresh, log)
    rows = reader.read() + reader.read()
    assert rows[0].stream == "system" and "replaced" in rows[0].text
    assert texts(rows[1:]) == [("stdout", "second")]


def test_a_truncated_file_is_noted_and_read_again_from_the_start(log):
    reader = ConsoleReader(log)
    append(log, b"a long first line\n")
    reader.read()
    os.truncate(log, 0)
    append(log, b"short\n")
    rows = reader.read() + reader.read()
    assert rows[0].stream == "system" and "truncated" in rows[0].text
    assert texts(rows[1:]) == [("stdout", "short")]


def test_a_missing_file_reads_as_nothing_until_it_appears(tmp_path):
    reader = ConsoleReader(tmp_path / "console.log")
    assert reader.read() == []
    append(tmp_path / "console.log", b"hello\n")
    assert texts(reader.read()) == [("stdout", "hello")]


@pytest.mark.parametrize(
    ("printed", "shown"),
    [
        ('"rcon_password" = "s3cret-Value" ( def. "" )', '"rcon_password" = "********" ( def. "" )'),
        (
            'rcon from "1.2.3.4:5": command "rcon_password other"',
            'rcon from "1.2.3.4:5": command "rcon_password ********"',
        ),
        ("echo s3cret-Value", "echo ********"),
        ('rcon from "1.2.3.4:5": command "rcon_password"', 'rcon from "1.2.3.4:5": command "rcon_password"'),
        ("hostname: friendly", "hostname: friendly"),
    ],
)
def test_redact_masks_the_password_and_any_value_given_to_rcon_password(printed, shown):
    assert redact(printed, ("s3cret-Value",)) == shown


def test_a_start_jobs_console_tail_forwards_only_new_output_with_the_password_masked(log):
    from hostctl.srcds import ConsoleTail

    append(log, b"from an earlier run\n")
    got = []
    tail = ConsoleTail(log, lambda stream, text: got.append((stream, text)), secrets=("s3cret-Value",))
    append(log, b'"rcon_password" = "s3cret-Value"\nunfinished')
    tail.pump()
    tail.pump(final=True)
    assert got == [("stdout", '"rcon_password" = "********"'), ("stdout", "unfinished")]
