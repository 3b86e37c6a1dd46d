"""The server page's small charts: the last 24 h of players, CPU and memory, as inline SVG data.

Drawn on the server (numbers into a template's <svg>), so the page needs no chart
library, no CDN and no script. One indexed range read of ServerSample, grouped by the
database into columns of wall-clock time; a column without samples leaves a gap in the
line (the server was not running). A server with only minutes of history gets a shorter
window (15 min, 1 h, 6 h), so those minutes fill the chart instead of a sliver at its edge.
The drawing only changes with a new sample or a new column, so each process keeps the last
ones drawn: a page that finds its server's newest sample unchanged costs one indexed look-up.
"""

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.db.models.expressions import RawSQL
from django.utils import timezone

from l4d2site.db import aware, fetch, utc_param

from .models import ServerSample

SPAN = timedelta(hours=24)
BUCKETS = 288  # columns at most (5 minutes each over 24 h)
# The windows shown, shortest first: the first that holds the oldest sample of the last SPAN.
WINDOWS = (
    (timedelta(minutes=15), "15 min"),
    (timedelta(hours=1), "1 h"),
    (timedelta(hours=6), "6 h"),
    (SPAN, "24 h"),
)
HEIGHT = 60  # the SVG's viewBox height; its width is the number of columns

# The oldest sample of the last SPAN picks the window, the newest says whether the drawing
# changed: two statements, each one step down the (server, at) index. MIN and MAX together read
# the whole day's index entries (0.76 ms against 0.31 at 2,880 samples); through the ORM the
# two cost the page 0.4 ms (bench/page_floor.py).
_EDGE = "SELECT at FROM {} WHERE server_id = %s AND at >= %s AND at <= %s ORDER BY at {} LIMIT 1"
OLDEST, NEWEST = (_EDGE.format(ServerSample._meta.db_table, order) for order in ("ASC", "DESC"))


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    lines: list  # polyline "points" strings, one per unbroken run
    latest: str  # the last value, for people
    top: str  # what the top edge stands for
    width: int = BUCKETS  # columns
    since: str = "24 h"  # how far back the left edge is

    height = HEIGHT

    @property
    def empty(self):
        return not self.lines


def history(server, now=None):
    """The three charts of `server`: the last SPAN, or a shorter window if its history is short."""
    now = now or timezone.now()
    span = (server.id, utc_param(now - SPAN), utc_param(now))
    oldest = next((aware(at) for (at,) in fetch(OLDEST, span)), None)
    newest = next((aware(at) for (at,) in fetch(NEWEST, span)), None)
    # Nothing yet: the whole day, empty, rather than a quarter of an hour.
    window, since = next((w, label) for w, label in WINDOWS if oldest and oldest >= now - w or w == SPAN)
    # At least two samples a column, so a sample arriving a little late leaves no false gap.
    buckets = max(1, min(BUCKETS, int(window.total_seconds() / (2 * settings.SAMPLE_SECONDS))))
    width = window.total_seconds() / buckets
    column = int(now.timestamp() // width)  # the column `now` falls in
    return _drawn(server.id, server.max_players, newest, buckets, width, column, since)


@functools.lru_cache(maxsize=256)
def _drawn(server_id, max_players, newest, buckets, width, column, since):
    end = datetime.fromtimestamp((column + 1) * width, UTC)
    players, cpu, memory = ([None] * buckets for _ in range(3))
    for i, n_players, cpu_percent, rss in (
        _columns(server_id, end - buckets * timedelta(seconds=width), end, width) if newest else ()
    ):
        i = min(buckets - 1, i)
        players[i], cpu[i], memory[i] = n_players, cpu_percent, rss
    slots = max([max_players, *filter(None, players)])
    peak_cpu = max([100.0, *filter(None, cpu)])
    peak_memory = max([1, *filter(None, memory)]) * 1.2
    shape = {"width": buckets, "since": since}
    return [
        Chart("players", "Players", _lines(players, slots), _last(players, str), f"{slots}", **shape),
        Chart(
            "cpu",
            "CPU",
            _lines(cpu, peak_cpu),
            _last(cpu, lambda v: f"{v:.0f} %"),
            f"{peak_cpu:.0f} %",
            **shape,
        ),
        Chart(
            "memory",
            "Memory",
            _lines(memory, peak_memory),
            _last(memory, _mb),
            _mb(peak_memory) if any(v is not None for v in memory) else "—",
            **shape,
        ),
    ]


# A sample's column: seconds since `start` over the column's width. Counted by the database,
# which hands back one row per column (the busiest moment of each: a short spike stays
# visible) instead of a day of samples for Python to turn into datetimes one by one.
_COLUMN = {
    "sqlite": "CAST(((julianday(at) - 2440587.5) * 86400 - %s) / %s AS INTEGER)",  # stored as UTC text
    "postgresql": "FLOOR((EXTRACT(EPOCH FROM at) - %s) / %s)::integer",
}


def _columns(server_id, start, end, width):
    """(column, players, cpu, memory) of every column with samples, in order."""
    column = RawSQL(_COLUMN[connection.vendor], (start.timestamp(), width))
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
