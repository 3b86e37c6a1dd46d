"""Resource history: players, CPU and memory of each running server, kept 7 days.

The supervisor calls `Sampler.sample` on its full passes; every L4D2_SAMPLE_SECONDS it
writes one row per running server (one INSERT for all of them), and every few
minutes it prunes rows older than KEEP in batches, so a week of history never
becomes one long delete that holds the database.
"""

import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from . import l4d2_facade
from .models import ServerSample

KEEP = timedelta(days=7)
PRUNE_EVERY = 300.0  # seconds between prunes
PRUNE_BATCH = 2000
PRUNE_BATCHES = 10  # per prune at most; the rest waits for the next pass


class Sampler:
    def __init__(self):
        self.due = 0.0  # time.monotonic() of the next sample
        self.prune_due = 0.0
        self.seen = {}  # server id -> (pid, cpu seconds, time.monotonic()) at the last sample

    def sample(self, alive, readings):
        """`alive`: {server id: ProcessCheck} of the live servers; `readings`: their A2S answers."""
        if time.monotonic() < self.due:
            return 0
        self.due = time.monotonic() + settings.SAMPLE_SECONDS
        usage = l4d2_facade.usage(check.pid for check in alive.values())
        now = timezone.now()
        rows = []
        for server_id, check in alive.items():
            used = usage.get(check.pid)
            if used is None:
                continue  # it died since the check: the next pass handles that
            reading = readings.get(server_id)
            rows.append(
                ServerSample(
                    server_id=server_id,
                    at=now,
                    players=reading.player_count if reading else None,
                    cpu=round(self._cpu_percent(server_id, check, used.cpu_seconds), 1),
                    memory=used.rss,
                )
            )
        self.seen = {k: v for k, v in self.seen.items() if k in alive}
        ServerSample.objects.bulk_create(rows)
        self.prune()
        return len(rows)

    def _cpu_percent(self, server_id, check, cpu_seconds):
        now = time.monotonic()
        last = self.seen.get(server_id)
        self.seen[server_id] = (check.pid, cpu_seconds, now)
        if last and last[0] == check.pid and now > last[2]:
            return max(0.0, (cpu_seconds - last[1]) / (now - last[2]) * 100)
        # First look at this process (it just started, or the worker did): its average so far.
        lifetime = datetime.now(UTC).timestamp() - check.started
        return max(0.0, cpu_seconds / lifetime * 100) if lifetime > 0 else 0.0

    def prune(self):
        if time.monotonic() < self.prune_due:
            return 0
        deleted = prune_samples()
        # A full load of batches means more is left: go on at the next sample, not minutes later.
        self.prune_due = time.monotonic() + (0 if deleted >= PRUNE_BATCH * PRUNE_BATCHES else PRUNE_EVERY)
        return deleted


def prune_samples(now=None, batches=PRUNE_BATCHES):
    """Delete samples older than KEEP, PRUNE_BATCH rows per statement; how many were deleted."""
    cutoff = (now or timezone.now()) - KEEP
    deleted = 0
    for _ in range(batches):
        ids = list(ServerSample.objects.filter(at__lt=cutoff).values_list("pk", flat=True)[:PRUNE_BATCH])
        if not ids:
            break
        deleted += ServerSample.objects.filter(pk__in=ids).delete()[0]
    return deleted
