"""Console and cfg text the way srcds reads it: which commands run, and each one's words.

The panel checks what srcds will run, not what the text looks like, so it reads a
line with srcds's own rules, taken from the Source SDK 2013 (`tier1/commandbuffer.cpp`
`CCommandBuffer::GetNextCommandLength`, `tier1/convar.cpp` `CCommand::Tokenize`,
`tier1/utlbuffer.cpp` `CUtlBuffer::ParseToken`; CS:GO's tier1, of the same engine
branch as L4D2, has the same code):

- `;` and newlines end a command, except that a `;` between double quotes does not;
  `//` outside quotes starts a comment that runs to the end of the line (a `;` in it
  ends nothing).
- A command's words are split at whitespace. A word in double quotes is one word,
  quotes removed (`"quit"` is `quit`; a missing closing quote runs to the end).
  Each of `{ } ( ) ' :` is a word of its own (`quit:` is `quit`, `:`), and a word
  also ends at a quote or at any byte above 127: srcds compares `char`s, which are
  signed, so `quité` runs `quit`.
- The first word names the command, in any case (`QUIT` is `quit`). There is no
  `+`/`-` stripping: typed into the console, `+quit` is an unknown command.

`wait` and aliases are resolved when the commands run; the callers refuse `alias`
instead of guessing what an alias would become.
"""

from __future__ import annotations

# CCommand's default break set: each of these is a word by itself.
BREAKS = frozenset("{}()':")
_SPACE = frozenset(" \t\n\v\f\r")  # C's isspace(), which skips what lies between words


def split(text: str, *, comments: bool = True) -> list[str]:
    """The commands in `text`, as srcds's command buffer cuts it (comments dropped).

    `comments=False`: as a reader that does not know `//` would cut it, every `;`
    outside quotes ending a command; callers check both readings when they must not
    depend on which one a given srcds build uses.
    """
    commands, current, quoted, commented = [], [], False, False
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\n":
            commands.append("".join(current))
            current, quoted, commented = [], False, False
        elif commented:
            pass
        elif ch == '"':
            quoted = not quoted
            current.append(ch)
        elif comments and not quoted and text.startswith("//", i):
            commented = True
            i += 1
        elif ch == ";" and not quoted:
            commands.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    commands.append("".join(current))
    return [command for command in commands if command.strip()]


def words(command: str) -> list[str]:
    """The words (argv) of one command, as CCommand::Tokenize makes them."""
    argv, i, n = [], 0, len(command)
    while i < n:
        ch = command[i]
        if ch in _SPACE:
            i += 1
        elif command.startswith("//", i):
            break  # a comment where a word would start: the rest of the line
        elif ch == '"':
            end = command.find('"', i + 1)
            end = n if end == -1 else end
            argv.append(command[i + 1 : end])
            i = end + 1
        elif ch in BREAKS or not ch.isascii():
            # A byte above 127 starts a word but ends it at once (srcds splits it further,
            # byte by byte; no command name has such bytes, so that cannot hide one).
            argv.append(ch)
            i += 1
        else:
            start, i = i, i + 1  # the first character is taken whatever it is, as srcds does
            while i < n and _in_word(command[i]):
                i += 1
            argv.append(command[start:i])
    return argv


def _in_word(ch: str) -> bool:
    return ch.isascii() and ch > " " and ch != '"' and ch not in BREAKS


def commands(text: str, *, comments: bool = True) -> list[list[str]]:
    """The argv of every command in `text`; see `split`."""
    return [argv for command in split(text, comments=comments) if (argv := words(command))]


def every_reading(text: str) -> list[list[str]]:
    """The argv of every command any srcds reading of `text` runs: with and without comments.

    The 2013 SDK's (and CS:GO's) command buffer knows `//`, but L4D2's own build is not
    public; a reader without it would run `quit` in `say hi // ; quit`. Checking both
    costs a false alarm on such a line at most.
    """
    seen: list[list[str]] = []
    for argv in commands(text) + commands(text, comments=False):
        if argv not in seen:
            seen.append(argv)
    return seen
