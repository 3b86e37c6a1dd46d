"""A2S queries (python-a2s) against servers on this host."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

import a2s

# What a server that is not (or no longer) answering properly raises.
NO_ANSWER = (TimeoutError, OSError, EOFError, ValueError, a2s.BrokenMessageError, a2s.BufferExhaustedError)


@dataclass(frozen=True)
class Player:
    name: str
    score: int
    seconds: float  # connected for


@dataclass(frozen=True)
class Reading:
    """One server's A2S_INFO and A2S_PLAYER answers."""

    name: str
    map: str
    player_count: int
    max_players: int
    players: tuple[Player, ...] | None  # None: A2S_INFO answered but A2S_PLAYER did not


def query_info(port: int, timeout: float = 1.0) -> a2s.SourceInfo | None:
    """A2S_INFO from 127.0.0.1:`port`, or None if nothing answers in time."""
    try:
        return a2s.info(("127.0.0.1", port), timeout=timeout)
    except NO_ANSWER:
        return None


def query_many(ports: Iterable[int], timeout: float = 1.0) -> dict[int, Reading | None]:
    """A2S_INFO and A2S_PLAYER of every port on 127.0.0.1, all at once, within `timeout` in all.

    Every query is in flight together, so 100 servers take as long as the slowest
    answer, not the sum of them; and `timeout` bounds the whole (a query is two
    round trips with L4D2's challenge): a server that has not answered by then
    counts as silent this time.
    """
    ports = list(dict.fromkeys(ports))
    if not ports:
        return {}
    return asyncio.run(_query_all(ports, timeout))


async def _query_all(ports: list[int], timeout: float) -> dict[int, Reading | None]:
    tasks = {port: asyncio.ensure_future(_query(port, timeout)) for port in ports}
    _, late = await asyncio.wait(tasks.values(), timeout=timeout)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    return {port: None if task in late else task.result() for port, task in tasks.items()}


async def _query(port: int, timeout: float) -> Reading | None:
    address = ("127.0.0.1", port)
    info, players = await asyncio.gather(
        a2s.ainfo(address, timeout=timeout), a2s.aplayers(address, timeout=timeout), return_exceptions=True
    )
    for answer in (info, players):
        if isinstance(answer, BaseException) and not isinstance(answer, NO_ANSWER):
            raise answer
    if isinstance(info, BaseException):
        return None
    return Reading(
        name=info.server_name,
        map=info.map_name,
        player_count=info.player_count,
        max_players=info.max_players,
        players=None
        if isinstance(players, BaseException)
        else tuple(Player(p.name, p.score, p.duration) for p in players),
    )
