"""The data the web tier's pages are measured on (bench/pages.py), written straight into SQLite.

One owner with SERVERS servers (the server list), each with 7 days of resource samples
every L4D2_SAMPLE_SECONDS (30 s); the measured server with JOBS jobs of every kind and
state, the newest of which printed LOG_LINES lines (the job page).
"""

from __future__ import annotations

import random
import sqlite3
from datetime import timedelta

SERVERS = 20
JOBS = 300
LOG_LINES = 2000
SAMPLE_EVERY = timedelta(seconds=30)
SAMPLE_DAYS = 7
KINDS = ["update", "restart", "start", "stop", "install"]
STATES = ["succeeded"] * 17 + ["failed"] * 2 + ["cancelled"]


def fill(common):
    """(owner, the measured server, its newest job); written through sqlite3 (set-up, not measured)."""
    from django.db import connection
    from django.utils import timezone

    from jobs.models import Job

    owner = common.make_user("owner")
    servers = [common.make_server(owner, 27500 + i) for i in range(SERVERS)]
    server = servers[0]
    path = connection.settings_dict["NAME"]
    connection.close()
    now = timezone.now()
    db = sqlite3.connect(path)
    rng = random.Random(1)
    stamp = lambda t: t.strftime("%Y-%m-%d %H:%M:%S.%f")  # noqa: E731
    jobs = []
    for i in range(JOBS):
        created = now - timedelta(minutes=10 * (JOBS - i))
        state, ended = STATES[i % len(STATES)], stamp(created + timedelta(seconds=40))
        exit_code = int(state != "succeeded")
        times = (stamp(created), stamp(created), ended, ended)
        jobs.append((server.id, KINDS[i % len(KINDS)], state, owner.id, *times, exit_code, "user", "", "{}"))
    db.executemany(
        "INSERT INTO jobs_job (server_id, kind, state, requested_by_id, created_at, started_at, finished_at, "
        "updated_at, exit_code, trigger, claimed_by, params) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        jobs,
    )
    newest = db.execute("SELECT max(id) FROM jobs_job").fetchone()[0]
    db.executemany(
        "INSERT INTO jobs_joblog (job_id, seq, stream, line, created_at) VALUES (?, ?, ?, ?, ?)",
        [
            (newest, seq, "stdout", f"Update state (0x61) downloading, progress: {seq / 20:.2f}", stamp(now))
            for seq in range(1, LOG_LINES + 1)
        ],
    )
    count = int(timedelta(days=SAMPLE_DAYS) / SAMPLE_EVERY)
    for each in servers:
        db.executemany(
            "INSERT INTO servers_serversample (server_id, at, players, cpu, memory) VALUES (?, ?, ?, ?, ?)",
            [
                (
                    each.id,
                    stamp(now - i * SAMPLE_EVERY),
                    rng.randrange(9),
                    rng.uniform(5, 60),
                    rng.randrange(1, 4) << 29,
                )
                for i in range(count)
            ],
        )
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return owner, server, Job.objects.get(pk=newest)
