"""Reading what a server printed (console.log) exactly once, by byte position.

srcds's stdout and stderr go to console.log (srcds.py). `ConsoleReader` reads it
from a `Position` (which file, how far) and returns rows of whole lines, each
with the position just after it: a caller that stores a row's position together
with the row (in one transaction) resumes after a crash exactly there, with no
line lost and none repeated. So lines are cut here, at byte level, by the rules
of `lines.LineSplitter` ("\\r\\n", "\\r" and "\\n" end a line; a line longer than
MAX_LINE is cut into pieces), because a row's end must be a byte offset.

The log is only ever appended to, and replaced when it grows big (`rotate`, at a
server start): a reader still on the old file finishes it as console.log.1, then
goes on with the new one. A truncated or vanished file is noted in a system row.
While the server runs, the stored part is released in place (logspace.py): a reader
that finds a hole where it was to read skips it, with a note, instead of reading
zeros as lines.

Panel notes inside the log (`write_marker`: "Server started ...") are lines that
start with a NUL byte, which nothing srcds prints can contain (its text comes
from C strings), so no player or plugin can forge one.
"""

from __future__ import annotations

import errno
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

from hostctl import modes
from hostctl.lines import MAX_LINE

MARKER = b"\x00panel "
START_NOTE = "Server started at"  # the marker line l4d2.start writes before each launch
# console.log's disk budget (L4D2_CONSOLE_LOG_MAX_MB): a bigger one is replaced at a start.
ROTATE_BYTES = 64 * 1024 * 1024
READ_BYTES = 1024 * 1024  # at most this much per read, so memory stays bounded
PARTIAL_SECONDS = 1.0  # an unterminated last line is shown once it has waited this long
MASK = "********"
# A value that follows rcon_password (`rcon_password x`, `"rcon_password" = "x"`).
_RCON_VALUE = re.compile(r'(rcon_password"?\s*(?:=\s*)?)("[^"]*"|[^\s"]+)', re.IGNORECASE)
_BREAK = re.compile(rb"\r\n|\r|\n")


@dataclass(frozen=True)
class Position:
    """How far a file was read: its identity (device:inode, "" for none yet) and a byte offset."""

    file_id: str = ""
    offset: int = 0


@dataclass(frozen=True)
class Row:
    stream: str  # "stdout" (what the server printed) or "system" (a panel note)
    text: str
    end: Position  # where reading resumes after this row


def file_id(path: Path) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_dev}:{st.st_ino}"


def rotated(path: Path) -> Path:
    return path.with_name(path.name + ".1")


def rotate(path: Path, limit: int = ROTATE_BYTES) -> None:
    """Replace the log by an empty one once it is `limit` bytes; the old one becomes .1."""
    try:
        if path.stat().st_size >= limit:
            os.replace(path, rotated(path))
    except FileNotFoundError:
        pass


def write_marker(path: Path, text: str) -> None:
    """Append a panel note that readers return as a "system" row, in order with the output."""
    line = " ".join(text.split())  # one line, whatever it was given
    with open(modes.open_append(path), "ab") as log:
        log.write(MARKER + line.encode("utf-8", "replace") + b"\n")


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """`text` with each secret and any value given to rcon_password replaced by a mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    if "rcon_password" in text.lower():
        text = _RCON_VALUE.sub(
            lambda m: m.group(1) + (f'"{MASK}"' if m.group(2).startswith('"') else MASK), text
        )
    return text


def shown(line: str) -> str:
    """A console.log line (decoded) as people see it: the panel's marker off, no NUL left
    (a NUL cannot be stored in PostgreSQL text or JSON)."""
    marker = MARKER.decode()
    if line.startswith(marker):
        line = line[len(marker) :]
    return line.replace("\x00", "\ufffd")


def _decode(raw: bytes) -> tuple[str, str]:
    if raw.startswith(MARKER):
        return "system", raw[len(MARKER) :].decode("utf-8", "replace")
    return "stdout", raw.decode("utf-8", "replace")


def _next_data(fd: int, offset: int) -> int:
    """Where data starts at or after `offset`: `offset` itself unless it lies in a released hole."""
    try:
        return os.lseek(fd, offset, os.SEEK_DATA)
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a hole up to the end (or offset at the end)
            return max(offset, os.fstat(fd).st_size)
        return offset  # the filesystem cannot tell: read on


def _utf8_cut(data: bytes, limit: int) -> int:
    """The largest cut <= limit (len(data) > limit) that does not split a UTF-8 character."""
    for cut in range(limit, max(limit - 4, 0), -1):
        if data[cut] & 0xC0 != 0x80:  # not a continuation byte: a character starts here
            return cut
    return limit  # not UTF-8 anyway


class ConsoleReader:
    def __init__(self, path: Path, position: Position = Position()) -> None:
        self.path = Path(path)
        self.position = position
        self._waiting: tuple[Position, int, float] | None = None  # an unterminated tail seen since

    def read(self, *, final: bool = False, max_bytes: int = READ_BYTES) -> list[Row]:
        """New rows since the last read. `final`: the writer is gone, return an unterminated tail too."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        current = f"{st.st_dev}:{st.st_ino}"
        pos = self.position
        if pos.file_id != current:
            if pos.file_id:
                rows = self._finish_rotated(pos, max_bytes)
                if rows is not None:
                    return rows
                return [self._move(Position(current, 0), "console.log was replaced before it was all read")]
            self.position = Position(current, 0)  # the first file this reader sees
        elif st.st_size < pos.offset:
            return [self._move(Position(current, 0), "console.log was truncated; reading it from the start")]
        elif st.st_size == pos.offset:
            return []  # nothing new: the common case, answered by one stat()
        return self._read_from(self.path, final=final, max_bytes=max_bytes)

    def _move(self, position: Position, note: str) -> Row:
        self.position = position
        self._waiting = None
        return Row("system", note, position)

    def _finish_rotated(self, pos: Position, max_bytes: int) -> list[Row] | None:
        """The rest of the file we were reading, now console.log.1; [] once done; None if it is gone."""
        old = rotated(self.path)
        if file_id(old) != pos.file_id:
            return None
        rows = self._read_from(old, final=True, max_bytes=max_bytes)
        if rows:
            return rows
        self.position = Position(file_id(self.path) or "", 0)
        return self._read_from(self.path, final=False, max_bytes=max_bytes)

    def _read_from(self, path: Path, *, final: bool, max_bytes: int) -> list[Row]:
        pos = self.position
        try:
            with open(path, "rb") as log:
                data_at = _next_data(log.fileno(), pos.offset)
                if data_at > pos.offset:
                    skipped = data_at - pos.offset
                    note = f"{skipped} bytes of console.log were released before they were read"
                    return [self._move(Position(pos.file_id, data_at), note)]
                log.seek(pos.offset)
                data = log.read(max_bytes)
                more = bool(log.read(1))
        except FileNotFoundError:
            return []
        rows: list[Row] = []
        start = 0
        for match in _BREAK.finditer(data):
            if match.group() == b"\r" and match.end() == len(data) and (more or not final):
                break  # maybe the first half of "\r\n": wait for the next byte
            self._add(rows, data, start, match.start(), match.end(), pos)
            start = match.end()
        tail = len(data) - start
        while tail > MAX_LINE:  # an over-long line: cut it into pieces now
            cut = start + _utf8_cut(data[start:], MAX_LINE)
            self._add(rows, data, start, cut, cut, pos)
            start, tail = cut, len(data) - cut
        if tail and not more and (final or self._waited(pos.offset + start, tail)):
            # A held-back "\r" ends the line but is not part of it.
            self._add(rows, data, start, len(data) - data.endswith(b"\r"), len(data), pos)
        if rows:
            self.position = rows[-1].end
            self._waiting = None
        return rows

    def _add(self, rows: list[Row], data: bytes, start: int, end: int, resume: int, pos: Position) -> None:
        raw = data[start:end]
        # A line the splitter would cut (MAX_LINE characters): cut it the same way, each piece its row.
        while len(raw) > MAX_LINE:
            cut = _utf8_cut(raw, MAX_LINE)
            stream, text = _decode(raw[:cut])
            rows.append(Row(stream, text, Position(pos.file_id, pos.offset + start + cut)))
            raw, start = raw[cut:], start + cut
        stream, text = _decode(raw)
        rows.append(Row(stream, text, Position(pos.file_id, pos.offset + resume)))

    def _waited(self, offset: int, size: int) -> bool:
        """True once the same unterminated tail has sat there PARTIAL_SECONDS (a prompt, say)."""
        now = time.monotonic()
        key = Position(self.position.file_id, offset)
        if self._waiting is None or self._waiting[:2] != (key, size):
            self._waiting = (key, size, now)
            return False
        return now - self._waiting[2] >= PARTIAL_SECONDS
