"""Pages: a server page and the job lists at 100 and 1,000,000 jobs, then the web tier (bench/README.md).

    .venv/bin/python bench/pages.py [--parts lists,web] [--requests 40] [--big 1000000]
                                    [--seconds 10] [--clients 50] [--rate 50] [--viewers 200]
                                    [--json out.json]

Web tier (pages_web.py, in a child process with a database of its own): the server page,
a job page and the server list, in-process and through the running panel.

Job lists:
In-process Django test Client (the whole middleware stack and templates, no
network), SQLite. Two database files that differ only in history: the small one
has 100 jobs on the measured server; the big one is a copy of it with --big - 100
older jobs added underneath (ids 1..N; a realistic mix: mostly updates and
restarts, few installs, mostly succeeded; 60% on the measured server). The 100
newest fill every judged page (50 rows) on their own, so both databases render
the same rows and only history differs. The same pages are then requested from both, alternating
small, big, small, big... (the connection is closed after every request anyway),
so whatever else the machine does falls on both alike. Each page: 3 warm-up
requests on each database, then the median of --requests timed ones; queries
counted with a connection wrapper.
"""

from __future__ import annotations

import json
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

SMALL = 100
RATIO_TARGET = 1.1
# kind: weight; installs are rare, as on a real host (once per server)
KINDS = {"update": 30, "restart": 40, "start": 14, "stop": 15, "install": 1}
STATES = {"succeeded": 85, "failed": 10, "cancelled": 5}


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def insert_jobs(path, rows):
    """Rows (id, server, kind, state, created) straight into the SQLite file (set-up, not measured)."""
    db = sqlite3.connect(path)
    sql = (
        "INSERT INTO jobs_job (id, server_id, kind, state, requested_by_id, created_at, started_at, "
        "finished_at, updated_at, exit_code, trigger, claimed_by, params) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    batch = []
    for job_id, server, kind, state, user, created in rows:
        stamp = created.strftime("%Y-%m-%d %H:%M:%S.%f")
        end = (created + timedelta(seconds=40)).strftime("%Y-%m-%d %H:%M:%S.%f")
        batch.append(
            (
                job_id,
                server,
                kind,
                state,
                user,
                stamp,
                stamp,
                end,
                end,
                int(state != "succeeded"),
                "user",
                "",
                "{}",
            )
        )
        if len(batch) == 20_000:
            db.executemany(sql, batch)
            batch = []
    db.executemany(sql, batch)
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def newest_jobs(first_id, server_id, user_id, now):
    """The 100 newest jobs, the same in both databases: every judged page fills up (50 rows) from them alone.

    All on the measured server; 51 failed updates, 49 succeeded installs, interleaved.
    """
    for i in range(SMALL):
        kind, state = ("update", "failed") if i % 2 == 0 or i == SMALL - 1 else ("install", "succeeded")
        yield first_id + i, server_id, kind, state, user_id, now - timedelta(minutes=SMALL - i)


def history(count, server_ids, user_id, now):
    """`count` older jobs, ids 1..count: a host's mix (few installs, mostly succeeded), 60% on server 1."""
    rng = random.Random(1)
    kinds, kind_w = zip(*KINDS.items(), strict=True)
    states, state_w = zip(*STATES.items(), strict=True)
    start = now - timedelta(days=400)
    for job_id in range(1, count + 1):
        server = server_ids[0] if rng.random() < 0.6 else rng.choice(server_ids)
        kind, state = rng.choices(kinds, kind_w)[0], rng.choices(states, state_w)[0]
        yield job_id, server, kind, state, user_id, start + timedelta(seconds=30 * job_id)


def use(path):
    """Point Django's connection at another database file (closed now; reopened by the next query)."""
    from django.db import connection

    connection.close()
    connection.settings_dict["NAME"] = str(path)


def timed(client, url):
    from django.db import connection

    counted = []

    def count(execute, sql, params, many, context):
        counted.append(sql)
        return execute(sql, params, many, context)

    t0 = time.perf_counter()
    with connection.execute_wrapper(count):
        response = client.get(url)
    elapsed = time.perf_counter() - t0
    assert response.status_code == 200, (url, response.status_code)
    return elapsed, len(counted)


def main():
    parts = opt("--parts", "lists,web").split(",")
    res = lists() if "lists" in parts else common.Results("pages")
    if "web" in parts:
        with tempfile.TemporaryDirectory() as tmp:
            args = [a for a in sys.argv[1:] if a != "--json" and a != opt("--json", None)]
            child = Path(__file__).with_name("pages_web.py")
            subprocess.run([sys.executable, str(child), *args, "--json", f"{tmp}/web"], check=True)
            res.rows.extend(json.loads(Path(f"{tmp}/web").read_text()))
    res.dump()


def lists():
    n, big = int(opt("--requests", 40)), int(opt("--big", 1_000_000))
    data = common.setup("pages")
    res = common.Results("pages")
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from jobs.models import Job

    owner = common.make_user("owner")
    staff = common.make_user("staff", staff=True)
    servers = [common.make_server(owner, 27400 + i) for i in range(20)]
    server = servers[0]
    owner_client, staff_client = Client(), Client()
    owner_client.force_login(owner)
    staff_client.force_login(staff)
    small_db = Path(connection.settings_dict["NAME"])
    connection.close()
    now = timezone.now()
    insert_jobs(small_db, newest_jobs(big - SMALL + 1, server.id, owner.id, now))
    big_db = data / "big.sqlite3"
    shutil.copy(small_db, big_db)  # the same users, sessions, servers and newest 100 jobs
    t0 = time.perf_counter()
    insert_jobs(big_db, history(big - SMALL, [s.id for s in servers], owner.id, now))
    fill = time.perf_counter() - t0

    def pages():
        # 55 of the newest 100 are older than this one: the page is full in both databases.
        older_than = Job.objects.filter(server=server).order_by("-id").values_list("id", flat=True)[44]
        return {
            "/servers/<id>": (owner_client, f"/servers/{server.id}"),
            "/servers/<id>/jobs": (owner_client, f"/servers/{server.id}/jobs"),
            "/admin/jobs": (staff_client, "/admin/jobs"),
            "/admin/jobs?state=failed": (staff_client, "/admin/jobs?state=failed"),
            "/admin/jobs?server=<id>": (staff_client, f"/admin/jobs?server={server.id}"),
            "/admin/jobs?kind=install": (staff_client, "/admin/jobs?kind=install"),
            "/admin/jobs?state&kind&server": (
                staff_client,
                f"/admin/jobs?state=failed&kind=update&server={server.id}",
            ),
            "/servers/<id>/jobs?before=<old>": (
                owner_client,
                f"/servers/{server.id}/jobs?before={older_than}",
            ),
        }

    use(small_db)
    urls = pages()
    results = {}
    for name, (client, url) in urls.items():
        times = {small_db: [], big_db: []}
        queries = {}
        for db in (small_db, big_db):
            use(db)
            for _ in range(3):
                timed(client, url)
        for _ in range(n):
            for db in (small_db, big_db):
                use(db)
                elapsed, queries[db] = timed(client, url)
                times[db].append(elapsed)
        results[name] = {
            "small": common.median(times[small_db]),
            "big": common.median(times[big_db]),
            "q_small": queries[small_db],
            "q_big": queries[big_db],
        }
    use(big_db)
    total = Job.objects.count()

    print(
        f"\nJob list pages, median of {n} requests each, alternating a {SMALL}-job and a {total:,}-job "
        f"database ({big - SMALL:,} jobs written in {fill:.0f} s)\n"
    )
    rows = [
        (name, r["small"] * 1000, r["big"] * 1000, r["big"] / r["small"], r["q_small"], r["q_big"])
        for name, r in results.items()
    ]
    print(
        common.table(
            rows, ("page", f"{SMALL} jobs ms", f"{total:,} jobs ms", "ratio", "queries", "queries big")
        )
    )
    print()
    res.add("jobs in the big database", total, f"{big:,}", total == big)
    for name, r in results.items():
        ratio = r["big"] / r["small"]
        res.add(
            f"{name} median, {SMALL} / {big:,} jobs",
            f"{r['small'] * 1000:.1f} / {r['big'] * 1000:.1f}",
            "",
            None,
            "ms",
        )
        res.add(f"{name} ratio", round(ratio, 2), f"<= {RATIO_TARGET}", ratio <= RATIO_TARGET)
        res.add(f"{name} queries", f"{r['q_small']} / {r['q_big']}", "same", r["q_small"] == r["q_big"])
    res.print()
    return res


if __name__ == "__main__":
    main()
