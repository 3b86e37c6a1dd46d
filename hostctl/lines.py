"""Byte streams to text lines: UTF-8 with replacement, "\\r" redraws as lines, long lines split."""

from __future__ import annotations

import codecs
import os
import re
from collections.abc import Callable

MAX_LINE = 4096  # longer lines are delivered in chunks of this many characters
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
HOME = os.path.expanduser("~")


def hide_home(text: str) -> str:
    """This process's home directory as "~": owners read these lines, host paths outside
    their server are for staff (steamcmd and srcds name files there)."""
    return text.replace(HOME, "~") if len(HOME) > 1 and HOME in text else text


class LineSplitter:
    """Turn a byte stream into text lines, holding at most MAX_LINE characters.

    "\\r" counts as a line break so progress redraws become separate lines; a
    "\\r" at the end of a chunk is held back because the next chunk may start
    with the "\\n" of a "\\r\\n".
    """

    def __init__(self, emit: Callable[[str], None]) -> None:
        self._emit = emit
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._chunked = False  # part of the pending line was already emitted

    def feed(self, data: bytes, *, final: bool = False) -> None:
        text = self._pending + self._decoder.decode(data, final)
        held = ""
        if not final and text.endswith("\r"):
            text, held = text[:-1], "\r"
        *complete, rest = _LINE_BREAK.split(text)
        for line in complete:
            # A line that was exactly a multiple of MAX_LINE long has been
            # emitted in full already; its terminator must not add an empty line.
            if line or not self._chunked:
                self._emit_chunks(line)
            self._chunked = False
        while len(rest) >= MAX_LINE:
            self._emit(rest[:MAX_LINE])
            rest = rest[MAX_LINE:]
            self._chunked = True
        if final and rest:
            self._emit(rest)
            rest = ""
        self._pending = rest + held

    def _emit_chunks(self, line: str) -> None:
        for start in range(0, max(len(line), 1), MAX_LINE):
            self._emit(line[start : start + MAX_LINE])
