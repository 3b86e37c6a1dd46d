"""`sim_tick`: numbered, timestamped lines at a steady rate, for console and latency tests. Stdlib only."""

from __future__ import annotations

import time


class Ticker:
    """Numbered lines at a steady rate, each with the time it was printed (for latency checks)."""

    def __init__(self, rate: float, count: int) -> None:
        self.period = 1 / rate
        self.left = count or -1  # -1: no end
        self.number = 0
        self.next = time.monotonic()

    @property
    def done(self) -> bool:
        return self.left == 0

    def due_in(self) -> float:
        return max(0.0, self.next - time.monotonic())

    def due(self) -> list[str]:
        """The lines whose time has come; [] once it has printed its count (then it is `done`)."""
        lines = []
        while self.left and time.monotonic() >= self.next:
            self.number += 1
            self.left -= 1
            self.next += self.period
            lines.append(f"tick {self.number} {time.time():.6f}")
        return lines
