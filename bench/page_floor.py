"""The server page's floor: what it costs when every read it makes beyond the session, the user
and the server itself is answered from memory (issue 28's "<= 5 ms in-process").

    .venv/bin/python bench/page_floor.py [--seconds 1] [--rounds 9] [--json out.json]

Same data and measure as bench/pages.py's in-process figure (bench/webdata.py: 300 jobs, 7 days
of samples; Django's test Client in this process, CPU time per page), median of --rounds runs,
the three measured in turn in each round:

- the server page as it is;
- the same page with its other reads (the charts' window, the live state, Start's install rule,
  the recent jobs, the schedule count) replaced by their answers, read once beforehand: what is
  left is Django's request handling, the three reads no page can skip, and the templates. The
  bench checks that only those three queries remain, so a read added to the page later cannot
  hide in the floor;
- the account page: the same request handling and base template around one small form.
"""

from __future__ import annotations

import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import webdata  # noqa: E402


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def cpu_per_page(client, url, seconds):
    """CPU ms per page of one thread asking for `url` again and again for `seconds`."""
    count, start, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds:
        client.get(url)
        count += 1
    return (time.process_time() - cpu) / count * 1000


def queries(client, url):
    from django.db import connection

    sql = []
    with connection.execute_wrapper(lambda execute, *args: sql.append(args[0]) or execute(*args)):
        assert client.get(url).status_code == 200, url
    return sql


def reads_answered(server):
    """Patches answering the server page's own reads with what they return now."""
    from automation.models import Schedule
    from jobs.models import JobQuerySet
    from servers import charts, live

    charts_now = charts.history(server)
    frame = live.state_frame(server.id, loaded=server)
    recent = list(server.jobs.row_keys(server_column=False)[:10])
    count = Schedule.objects.filter(server=server, enabled=True).count()

    class Rows(list):  # what the recent jobs' rows show, as a sliceable queryset stand-in
        def __getitem__(self, index):
            return self if isinstance(index, slice) else list.__getitem__(self, index)

    return [
        mock.patch("servers.views.charts.history", lambda s: charts_now),
        mock.patch("servers.views.state_frame", lambda server_id, loaded=None: frame),
        mock.patch("jobs.rules.install_unfinished", lambda s: False),
        mock.patch.object(JobQuerySet, "row_keys", lambda qs, server_column=False: Rows(recent)),
        mock.patch("automation.templatetags.automation_tags.fetch", lambda sql, params: [(count,)]),
    ]


def main():
    seconds, rounds = float(opt("--seconds", 1)), int(opt("--rounds", 9))
    common.setup("page-floor")
    res = common.Results("page-floor")
    from django.test import Client

    owner, server, _ = webdata.fill(common)
    client = Client()
    client.force_login(owner)
    page = f"/servers/{server.id}"
    for _ in range(20):
        assert client.get(page).status_code == 200
    as_is_queries = len(queries(client, page))
    with ExitStack() as stack:
        for patch in reads_answered(server):
            stack.enter_context(patch)
        left = queries(client, page)
        assert len(left) == 3, left  # session, user, server: nothing else may hide in the floor

    def answered():
        with ExitStack() as stack:
            for patch in reads_answered(server):
                stack.enter_context(patch)
            return cpu_per_page(client, page, seconds)

    # Round after round of the three, so a machine that slows down meanwhile slows all three.
    measures = {
        "as is": lambda: cpu_per_page(client, page, seconds),
        "answered": answered,
        "account": lambda: cpu_per_page(client, "/account/", seconds),
    }
    for measure in measures.values():
        measure()  # warm-up
    figures = {name: [] for name in measures}
    for _ in range(rounds):
        for name, measure in measures.items():
            figures[name].append(measure())
    as_is, floor, account = (statistics.median(figures[name]) for name in measures)
    print(f"\nServer page, CPU ms per page in-process (median of {rounds} runs of {seconds:g} s)\n")
    rows = [
        ("server page as it is", as_is, as_is_queries),
        ("its own reads answered from memory", floor, 3),
        ("account page (base template, one form)", account, len(queries(client, "/account/"))),
    ]
    print(common.table(rows, ("page", "CPU ms", "queries")))
    print()
    res.add("server page CPU per page", round(as_is, 2), "<= 5", as_is <= 5, "ms")
    res.add("server page with its reads free", round(floor, 2), "", None, "ms")
    res.add("account page CPU per page", round(account, 2), "", None, "ms")
    res.print()
    res.dump()


if __name__ == "__main__":
    main()
