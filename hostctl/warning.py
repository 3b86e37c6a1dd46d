"""Warning the players of a running server before it goes down (a restart, a stop, an update).

The warning goes to the server console as `say` lines, which every player sees in
chat, and each of them to the job's log. Nobody on the server (bots do not count): no
warning and no wait. Everyone leaving during the wait ends it early; so does a person
who asks to go on now (the `hurry` token).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from hostctl import srcds
from hostctl.a2s import query_info
from hostctl.process import CancelToken, LineSink

# What the players read, by what is about to happen: (in N seconds, now, called off).
WORDING = {
    "restart": ("The server restarts in {}", "Restarting now", "Restart cancelled."),
    "stop": ("The server shuts down in {}", "Shutting down now", "Shutdown cancelled."),
}
REMINDERS = (30, 10)  # seconds left when the warning is repeated (if the wait is longer)
RECOUNT_EVERY = 5.0  # seconds between player counts during the wait
_TICK = 0.25


def humans_on(port: int) -> int | None:
    """Players on the server who are not bots, by A2S_INFO; None if it does not answer."""
    info = query_info(port, timeout=1.0)
    if info is None:
        return None
    return max(0, info.player_count - info.bot_count)


def warn_players(
    port: int,
    fifo: Path,
    sink: LineSink,
    cancel: CancelToken | None,
    *,
    seconds: float,
    reason: str = "",
    what: str = "restart",
    hurry: CancelToken | None = None,
    count: Callable[[int], int | None] = humans_on,
) -> bool:
    """Tell the players what happens and wait `seconds` for them; False if cancelled meanwhile.

    `what`: "restart" or "stop" (WORDING). `reason`, if given, completes "The server restarts
    in N seconds ..." (e.g. "for a game update"). `hurry` set: go on at once.
    """
    ahead, now, off = WORDING[what]
    reason = f" {reason}" if reason else ""
    humans = count(port)
    if humans == 0:
        sink("system", "Nobody is on the server: no warning needed.")
        return True
    if seconds <= 0:
        sink("system", "The warning time is 0 seconds: going on without a warning.")
        return True
    who = "The server did not answer a player count" if humans is None else f"{humans} player(s) on"
    sink("system", f"{who}: warning in the console {seconds:g} s ahead.")

    def say(text: str) -> bool:
        if srcds.send_console(fifo, f'say "{text}"'):
            sink("system", f'Console: say "{text}"')
            return True
        sink("system", "Could not write to the server console: the players were not warned.")
        return False

    if not say(f"{ahead.format(_seconds(seconds))}{reason}."):
        return True  # nobody can be told, so waiting helps no one
    start = time.monotonic()
    reminders = [left for left in REMINDERS if left < seconds]
    recount = start + RECOUNT_EVERY
    while (left := seconds - (time.monotonic() - start)) > 0:
        if _cancelled_within(cancel, min(_TICK, left)):
            say(off)
            return False
        if hurry is not None and hurry.cancelled:
            sink("system", "Asked to go on now: the rest of the warning is skipped.")
            break
        if reminders and left <= reminders[0]:
            say(f"{ahead.format(_seconds(reminders.pop(0)))}{reason}.")
        if time.monotonic() >= recount:
            recount = time.monotonic() + RECOUNT_EVERY
            if count(port) == 0:
                sink("system", "Everyone has left: going on now.")
                return True
    say(f"{now}{reason}.")
    return True


def _seconds(count: float) -> str:
    return f"{count:g} second{'' if count == 1 else 's'}"


def _cancelled_within(cancel: CancelToken | None, seconds: float) -> bool:
    if cancel is None:
        time.sleep(seconds)
        return False
    return cancel.wait(seconds)
