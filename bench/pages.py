"""Job list pages with 100 and with 100,000 jobs: median time and query count.

    .venv/bin/python bench/pages.py [--requests 30] [--json out.json]

In-process Django test Client (the whole middleware stack and templates, no
network). 100 jobs on the measured server first; then 99,900 more are
bulk-created on it, so both /servers/<id>/jobs and /admin/jobs see 100,000.
Each page: 3 warm-up requests, then the median of --requests timed ones;
queries counted with CaptureQueriesContext. Also shown (not judged): an old
page (?before= near the end of history) and the admin filtered by state.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SMALL, BIG = 100, 100_000


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def add_jobs(server, user, count, start_index):
    from django.utils import timezone

    from jobs.models import Job

    rng = random.Random(start_index)
    base = timezone.now() - timedelta(days=365)
    states = ["succeeded"] * 8 + ["failed", "cancelled"]
    kinds = ["install", "update", "start", "stop", "restart"]
    batch = []
    for i in range(start_index, start_index + count):
        created = base + timedelta(minutes=5 * i)
        state = rng.choice(states)
        batch.append(
            Job(
                server=server,
                kind=rng.choice(kinds),
                state=state,
                requested_by=user,
                created_at=created,
                started_at=created + timedelta(seconds=2),
                finished_at=created + timedelta(seconds=40),
                exit_code=0 if state == "succeeded" else 1,
                cancel_requested_by=user if state == "cancelled" else None,
                cancel_requested_at=created + timedelta(seconds=30) if state == "cancelled" else None,
            )
        )
        if len(batch) == 5000:
            Job.objects.bulk_create(batch)
            batch = []
    if batch:
        Job.objects.bulk_create(batch)


def measure(client, url, n):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    counted = []

    def count(execute, sql, params, many, context):
        counted.append(sql)
        return execute(sql, params, many, context)

    with CaptureQueriesContext(connection) as captured, connection.execute_wrapper(count):
        response = client.get(url)
    # execute_wrapper is the count; CaptureQueriesContext kept for its SQL when debugging.
    queries = counted if counted or not len(captured) else captured.captured_queries
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - t0)
        assert response.status_code == 200
    return {"median": common.median(times), "queries": len(queries), "bytes": len(response.content)}


def main():
    n = int(opt("--requests", 30))
    common.setup("pages")
    res = common.Results("pages")
    from django.test import Client

    from jobs.models import Job

    owner = common.make_user("owner")
    staff = common.make_user("staff", staff=True)
    servers = [common.make_server(owner, 27400 + i) for i in range(5)]
    server = servers[0]
    owner_client, staff_client = Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    t_start = time.monotonic()

    def pages():
        oldest = Job.objects.filter(server=server).order_by("id").values_list("id", flat=True)[60]
        return {
            "/servers/<id>/jobs": (owner_client, f"/servers/{server.id}/jobs"),
            "/admin/jobs": (staff_client, "/admin/jobs"),
            "/servers/<id>/jobs?before=<old>": (owner_client, f"/servers/{server.id}/jobs?before={oldest}"),
            "/admin/jobs?state=failed": (staff_client, "/admin/jobs?state=failed"),
        }

    add_jobs(server, owner, SMALL, 0)
    small = {name: measure(c, url, n) for name, (c, url) in pages().items()}
    t0 = time.perf_counter()
    add_jobs(server, owner, BIG - SMALL, SMALL)
    fill = time.perf_counter() - t0
    assert Job.objects.count() == BIG
    big = {name: measure(c, url, n) for name, (c, url) in pages().items()}

    print(
        f"\nJob list pages, median of {n} requests (in-process test Client); "
        f"{BIG - SMALL:,} jobs bulk-created in {fill:.1f} s\n"
    )
    rows = []
    for name in small:
        s, b = small[name], big[name]
        rows.append(
            (
                name,
                s["median"] * 1000,
                b["median"] * 1000,
                b["median"] / s["median"],
                s["queries"],
                b["queries"],
            )
        )
    print(
        common.table(
            rows, ("page", f"{SMALL} jobs ms", f"{BIG:,} jobs ms", "ratio", "queries", "queries big")
        )
    )
    print()
    for name in ("/servers/<id>/jobs", "/admin/jobs"):
        s, b = small[name], big[name]
        ratio = b["median"] / s["median"]
        res.add(
            f"{name} median, {SMALL} / {BIG:,} jobs",
            f"{s['median'] * 1000:.1f} / {b['median'] * 1000:.1f}",
            "",
            None,
            "ms",
        )
        res.add(f"{name} big/small ratio", round(ratio, 2), "<= 1.5", ratio <= 1.5)
        res.add(
            f"{name} queries, {SMALL} / {BIG:,} jobs",
            f"{s['queries']} / {b['queries']}",
            "same",
            s["queries"] == b["queries"],
        )
    res.print()
    print(f"\n(pages bench took {time.monotonic() - t_start:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
