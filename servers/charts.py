"""The server page's small charts: the last 24 h of players, CPU and memory, as inline SVG data.

Drawn on the server (numbers into a template's <svg>), so the page needs no chart
library, no CDN and no script. One indexed range read of ServerSample, grouped by the
database into BUCKETS columns of wall-clock 5 minutes; a column without samples leaves
a gap in the line (the server was not running). The drawing only changes with a new
sample or a new column, so each process keeps the last ones drawn: a page that finds
its server's newest sample unchanged costs one indexed look-up.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Max
from django.db.models.expressions import RawSQL
from django.utils import timezone

from .models import ServerSample

SPAN = timedelta(hours=24)
BUCKETS = 288
COLUMN = SPAN / BUCKETS  # 5 minutes
WIDTH, HEIGHT = BUCKETS, 60  # the SVG's viewBox


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    lines: list  # polyline "points" strings, one per unbroken run
    latest: str  # the last value, for people
    top: str  # what the top edge stands for

    width = WIDTH
    height = HEIGHT

    @property
    def empty(self):
        return not self.lines


def history(server, now=None):
    """The three charts of `server` for the last SPAN."""
    now = now or timezone.now()
    newest = ServerSample.objects.filter(server_id=server.id).order_by("-at").values_list("pk", "at").first()
    column = int(now.timestamp() // COLUMN.total_seconds())  # the column `now` falls in
    return _drawn(server.id, server.max_players, newest, column)


@functools.lru_cache(maxsize=256)
def _drawn(server_id, max_players, newest, column):
    end = datetime.fromtimestamp((column + 1) * COLUMN.total_seconds(), UTC)
    players, cpu, memory = ([None] * BUCKETS for _ in range(3))
    for i, n_players, cpu_percent, rss in _columns(server_id, end - SPAN, end) if newest else ():
        i = min(BUCKETS - 1, i)
        players[i], cpu[i], memory[i] = n_players, cpu_percent, rss
    slots = max([max_players, *filter(None, players)])
    peak_cpu = max([100.0, *filter(None, cpu)])
    peak_memory = max([1, *filter(None, memory)]) * 1.2
    return [
        Chart("players", "Players", _lines(players, slots), _last(players, str), f"{slots}"),
        Chart("cpu", "CPU", _lines(cpu, peak_cpu), _last(cpu, lambda v: f"{v:.0f} %"), f"{peak_cpu:.0f} %"),
        Chart(
            "memory",
            "Memory",
            _lines(memory, peak_memory),
            _last(memory, _mb),
            _mb(peak_memory) if any(v is not None for v in memory) else "—",
        ),
    ]


# A sample's column: seconds since `start` over the column's width. Counted by the database,
# which hands back one row per column (the busiest moment of each: a short spike stays
# visible) instead of a day of samples for Python to turn into datetimes one by one.
_COLUMN = {
    "sqlite": "CAST(((julianday(at) - 2440587.5) * 86400 - %s) / %s AS INTEGER)",  # stored as UTC text
    "postgresql": "FLOOR((EXTRACT(EPOCH FROM at) - %s) / %s)::integer",
}


def _columns(server_id, start, end):
    """(column, players, cpu, memory) of every column with samples, in order."""
    column = RawSQL(_COLUMN[connection.vendor], (start.timestamp(), COLUMN.total_seconds()))
    return (
        ServerSample.objects.filter(server_id=server_id, at__gte=start, at__lt=end)
        .annotate(column=column)
        .values_list("column")
        .annotate(Max("players"), Max("cpu"), Max("memory"))
        .order_by("column")
    )


def _lines(values, top):
    """Polyline point lists (x,y in the viewBox), broken where a column has no value."""
    runs, run = [], []
    for x, value in enumerate(values):
        if value is None:
            if run:
                runs.append(run)
            run = []
            continue
        y = HEIGHT - (min(value, top) / top * (HEIGHT - 2)) - 1
        run.append(f"{x + 0.5:g},{y:.1f}")
    if run:
        runs.append(run)
    # A lone point would draw nothing: give it a short flat line.
    return [" ".join(r if len(r) > 1 else [r[0], _shift(r[0])]) for r in runs]


def _shift(point):
    x, y = point.split(",")
    return f"{float(x) + 1:g},{y}"


def _last(values, fmt):
    value = next((v for v in reversed(values) if v is not None), None)
    return "—" if value is None else fmt(value)


def _mb(value):
    return f"{value / 2**20:.0f} MB"
