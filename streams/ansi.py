"""Terminal escape sequences in stored lines: what plain-text downloads leave out.

Lines are stored as the program printed them (colours included), so the page can
render SGR colours; a `.txt` download is for reading and grepping, so it gets the
text alone.
"""

import re

# CSI sequences (colours, cursor moves, erase: ESC [ params final), OSC strings
# (window titles, hyperlinks: ESC ] ... BEL or ESC \) and the two-byte escapes left.
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")


def strip_ansi(text):
    """`text` without terminal escape sequences."""
    return _ESCAPES.sub("", text) if "\x1b" in text else text
