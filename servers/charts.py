"""The server page's small charts: the last 24 h of players, CPU and memory, as inline SVG data.

Drawn on the server (numbers into a template's <svg>), so the page needs no chart
library, no CDN and no script. One indexed range read of ServerSample per page;
samples are grouped into columns, and a column without samples leaves a gap in the
line (the server was not running). A server with only minutes of history gets a
shorter window (15 min, 1 h, 6 h), so those minutes fill the chart instead of a sliver at its edge.
"""

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

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
    rows = list(
        ServerSample.objects.filter(server=server, at__gte=now - SPAN, at__lte=now)
        .order_by("at")
        .values_list("at", "players", "cpu", "memory")
    )
    # Nothing yet: the whole day, empty, rather than a quarter of an hour.
    window, since = next((w, label) for w, label in WINDOWS if rows and rows[0][0] >= now - w or w == SPAN)
    # At least two samples a column, so a sample arriving a little late leaves no false gap.
    buckets = max(1, min(BUCKETS, int(window.total_seconds() / (2 * settings.SAMPLE_SECONDS))))
    start = now - window
    players, cpu, memory = ([None] * buckets for _ in range(3))
    for at, n_players, cpu_percent, rss in rows:
        i = min(buckets - 1, int((at - start) / window * buckets))
        # The busiest moment of each column: a short spike stays visible.
        players[i] = _max(players[i], n_players)
        cpu[i] = _max(cpu[i], cpu_percent)
        memory[i] = _max(memory[i], rss)
    slots = max([server.max_players, *filter(None, players)])
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
            _mb(peak_memory) if rows else "—",
            **shape,
        ),
    ]


def _max(a, b):
    return b if a is None else a if b is None else max(a, b)


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
