"""HTTP API: a key's GET and POST through a real Daphne, the rate limiter's cost, the limit itself.

    .venv/bin/python bench/api.py [--requests 500] [--modes sqlite,redis] [--clients 8] [--seconds 5]
                                  [--json out.json]

A key made by the real `manage.py createapikey` (server.read, power.restart, jobs.cancel)
in `Authorization: Bearer`, over one keep-alive connection per Daphne (stdlib
http.client), for each mode: SQLite alone (the limit counted in Daphne's memory) and
with REDIS_URL (the limit counted in Redis; its keys under a prefix of this run,
L4D2_CACHE_PREFIX, deleted on exit).

1. GET /api/v1/servers/<id>: --requests sequential requests to each of two Daphnes on
   the same database, alternating: the panel as it is, and the same panel with
   api.ratelimit.check replaced by a no-op before Daphne starts (that one runs with
   L4D2_API_RATE_PER_MINUTE=1, so a check left in place would answer 429 at once).
   The p50 difference is the limiter's cost through Daphne. The same GET with the
   owner's session cookie (no key lookup, no limit) is in the same rotation, as a
   third column. The latency Daphnes run with L4D2_API_RATE_PER_MINUTE=10**9: every
   request is counted, none refused.
   Then throughput: --clients threads, each with its own connection, for --seconds.
2. POST /api/v1/servers/<id>/jobs {"kind": "restart"}: --requests sequential enqueues
   on one server, each a new job (201, `duplicate` false); after each, untimed, the
   job is cancelled through POST /api/v1/jobs/<id>/cancel, so the next restart is a
   real enqueue again (not the duplicate answer). No worker runs: the enqueue is timed
   (transaction, owner lock, duplicate check, queue count, insert, desired state,
   worker nudge), not the job.
3. api.ratelimit.check itself, in this process, per call, against Django's memory
   cache and against the Redis cache (the backends the panel configures, one instance
   each, so one Redis connection pool); judged on the mean, p50 and p99 shown.
4. The limit: Daphne with L4D2_API_RATE_PER_MINUTE=60 and a fresh key, 100 requests
   as fast as they go: 60 x 200 then 40 x 429, each 429 with Retry-After. With Redis,
   the 100 requests alternate between two Daphne processes sharing it (the limit is
   per key, not per process). The limit counts in fixed minute windows: the bench
   waits for a fresh window if fewer than 10 s are left of this one.
"""

from __future__ import annotations

import atexit
import http.client
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

GET_P99_MS = 50
POST_P99_MS = 100
CHECK_MS = 1.0
LIMIT = 60
LIMIT_REQUESTS = 100
UNLIMITED = 10**9
CACHE_PREFIX = f"l4d2bench-api-{os.getpid()}"
# Daphne as `python -m daphne` runs it, with the limiter's check made a no-op first
# (api/auth.py looks ratelimit.check up at each call).
WITHOUT_CHECK = (
    "import api.ratelimit; api.ratelimit.check = lambda key: None; "
    "from daphne.cli import CommandLineInterface; CommandLineInterface.entrypoint()"
)


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


class Api:
    """One keep-alive connection to a Daphne: a key's (or a session's) JSON requests."""

    def __init__(self, port, key=None, sessionid=None, timeout=10):
        self.port, self.timeout = port, timeout
        self.headers = {"Accept": "application/json"}
        if key:
            self.headers["Authorization"] = f"Bearer {key}"
        if sessionid:
            self.headers["Cookie"] = f"sessionid={sessionid}"
        self.reconnects = 0
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None):
        """-> (status, headers, parsed JSON body)."""
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self.headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (http.client.HTTPException, OSError):
            self.conn.close()
            self.reconnects += 1
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        raw = response.read()
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw
        return response.status, response.headers, parsed

    def timed(self, method, path, body=None):
        t0 = time.perf_counter()
        status, headers, parsed = self.request(method, path, body)
        return time.perf_counter() - t0, status, parsed

    def close(self):
        self.conn.close()


def mode_env(mode, **extra):
    redis = {"REDIS_URL": common.REDIS_URL, "L4D2_CACHE_PREFIX": CACHE_PREFIX} if mode == "redis" else {}
    return common.base_env(common.DATA, **redis, **extra)


def delete_redis_keys():
    """The limiter's counters of this run (they would expire in 2 minutes anyway)."""
    try:
        from redis import Redis

        client = Redis.from_url(common.REDIS_URL)
        keys = list(client.scan_iter(f"{CACHE_PREFIX}:*"))
        if keys:
            client.delete(*keys)
    except Exception as exc:  # the Redis may be down: say so, do not hide the bench's own result
        print(f"(could not delete the bench's Redis keys {CACHE_PREFIX}:*: {exc})")


def create_key(username, name, permissions):
    """A key from the real `manage.py createapikey` (the key is its last line)."""
    args = [common.PY, "manage.py", "createapikey", username, "--name", name]
    for perm in permissions:
        args += ["--permission", perm]
    out = subprocess.run(
        args, cwd=common.ROOT, env=common.base_env(common.DATA), capture_output=True, text=True, check=True
    )
    return out.stdout.strip().splitlines()[-1].strip()


def latency(mode, server, key, sessionid, n):
    """GETs alternating: key (with check), key (check a no-op), session; then POSTs with the key."""
    port_with, port_without = common.free_port(), common.free_port()
    with_check = common.start_daphne(
        port_with, mode_env(mode, L4D2_API_RATE_PER_MINUTE=UNLIMITED), log_name=f"daphne-{mode}"
    )
    without_check = common.start_daphne(
        port_without,
        mode_env(mode, L4D2_API_RATE_PER_MINUTE=1),
        log_name=f"daphne-{mode}-nocheck",
        code=WITHOUT_CHECK,
    )
    clients = {
        "key": Api(port_with, key=key),
        "key, no check": Api(port_without, key=key),
        "session": Api(port_with, sessionid=sessionid),
    }
    path = f"/api/v1/servers/{server.id}"
    out = {"get": {name: [] for name in clients}, "statuses": {name: set() for name in clients}}
    try:
        for _ in range(20):  # warm: imports, first connections (database, Redis), caches
            for client in clients.values():
                client.request("GET", path)
        for _ in range(n):
            for name, client in clients.items():
                elapsed, status, body = client.timed("GET", path)
                out["get"][name].append(elapsed)
                out["statuses"][name].add(
                    status if status != 200 or body.get("id") == server.id else "bad body"
                )
        if mode == "redis":
            out["redis_connections"] = redis_connections_per_request(clients["key"], path)
        out["post"], out["post_statuses"], out["duplicates"] = post_latency(clients["key"], server, n)
        out["throughput"] = throughput(port_with, key, path)
        out["reconnects"] = sum(c.reconnects for c in clients.values())
    finally:
        for client in clients.values():
            client.close()
        common.stop_proc(without_check)
        common.stop_proc(with_check)
    return out


def redis_connections_per_request(client, path, requests=100):
    """Connections the Redis server accepted per keyed GET (its own counter; the Redis is
    shared, so another client connecting meanwhile would add to it)."""
    from redis import Redis

    redis = Redis.from_url(common.REDIS_URL)
    before = redis.info("stats")["total_connections_received"]
    for _ in range(requests):
        client.request("GET", path)
    after = redis.info("stats")["total_connections_received"]
    redis.close()
    return (after - before) / requests


def post_latency(client, server, n):
    path = f"/api/v1/servers/{server.id}/jobs"
    for _ in range(5):  # warm, as the GETs
        status, _, job = client.request("POST", path, {"kind": "restart"})
        client.request("POST", f"/api/v1/jobs/{job['id']}/cancel")
    times, statuses, duplicates = [], set(), 0
    for _ in range(n):
        elapsed, status, job = client.timed("POST", path, {"kind": "restart"})
        times.append(elapsed)
        statuses.add(status)
        duplicates += bool(job.get("duplicate"))
        cancel_status, _, _ = client.request("POST", f"/api/v1/jobs/{job['id']}/cancel")  # untimed
        statuses.add(f"cancel {cancel_status}")
    return times, statuses, duplicates


def throughput(port, key, path, clients=None, seconds=None):
    clients = int(clients or opt("--clients", 8))
    seconds = float(seconds or opt("--seconds", 5))
    results = [[] for _ in range(clients)]
    statuses = [set() for _ in range(clients)]
    start = threading.Barrier(clients + 1)
    deadline = [0.0]

    def run(i):
        api = Api(port, key=key)
        api.request("GET", path)
        start.wait()
        while time.perf_counter() < deadline[0]:
            elapsed, status, _ = api.timed("GET", path)
            results[i].append(elapsed)
            statuses[i].add(status)
        api.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    deadline[0] = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    every = [x for r in results for x in r]
    return {
        "clients": clients,
        "requests": len(every),
        "per_s": len(every) / wall,
        "p50": common.pct(every, 50),
        "p99": common.pct(every, 99),
        "statuses": set().union(*statuses),
    }


def check_cost(with_redis=True):
    """api.ratelimit.check per call, in this process, on the memory and the Redis cache backends."""
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    import api.ratelimit as ratelimit
    from api.models import ApiKey

    key = ApiKey.objects.first()
    backends = {
        "memory": caches["default"],  # no REDIS_URL here: Django's LocMemCache, as the panel has then
    }
    if with_redis:  # the panel's Redis cache (settings.py), under this run's prefix
        backends["redis"] = RedisCache(common.REDIS_URL, {"KEY_PREFIX": CACHE_PREFIX})
    calls = {"memory": 20_000, "redis": 5_000}
    # The limiter keeps one cache backend per process (ratelimit._counter): the bench hands it each.
    saved_counter, saved_limit = ratelimit._counter, settings.API_RATE_PER_MINUTE
    settings.API_RATE_PER_MINUTE = UNLIMITED
    out = {}
    try:
        for name, backend in backends.items():
            ratelimit._counter = lambda backend=backend: backend
            for _ in range(200):
                ratelimit.check(key)
            times = []
            for _ in range(calls[name]):
                t0 = time.perf_counter()
                ratelimit.check(key)
                times.append(time.perf_counter() - t0)
            out[name] = {"calls": len(times), "mean": statistics.fmean(times), "times": times}
    finally:
        ratelimit._counter, settings.API_RATE_PER_MINUTE = saved_counter, saved_limit
    return out


def the_limit(mode, user, server):
    """100 requests with a fresh key to Daphne(s) at 60 a minute: 60 x 200, 40 x 429 with Retry-After."""
    from api.models import ApiKey

    _, key = ApiKey.new(user, f"limit-{mode}", ["server.read"])
    env = mode_env(mode, L4D2_API_RATE_PER_MINUTE=LIMIT)
    processes = 2 if mode == "redis" else 1  # without Redis the count is per process (documented)
    daphnes, clients = [], []
    try:
        for i in range(processes):
            port = common.free_port()
            daphnes.append(common.start_daphne(port, env, log_name=f"daphne-{mode}-limit{i}"))
            clients.append(Api(port, key=key))
        left = 60 - time.time() % 60
        if left < 10:  # a new window would begin mid-run and count from 0 again
            time.sleep(left + 0.2)
        path = f"/api/v1/servers/{server.id}"
        answers = []
        t0 = time.perf_counter()
        for i in range(LIMIT_REQUESTS):
            status, headers, _ = clients[i % processes].request("GET", path)
            answers.append((status, headers.get("Retry-After")))
        took = time.perf_counter() - t0
    finally:
        for client in clients:
            client.close()
        for daphne in daphnes:
            common.stop_proc(daphne)
    ok = [a for a in answers if a[0] == 200]
    refused = [a for a in answers if a[0] == 429]
    retry = [int(r) for s, r in refused if r and r.isdigit()]
    return {
        "processes": processes,
        "ok": len(ok),
        "refused": len(refused),
        "other": len(answers) - len(ok) - len(refused),
        "in_order": all(s == 200 for s, _ in answers[:LIMIT]) and all(s == 429 for s, _ in answers[LIMIT:]),
        "retry_after": len(retry),
        "retry_range": (min(retry), max(retry)) if retry else None,
        "retry_sane": all(1 <= r <= 61 for r in retry),
        "took": took,
    }


def main():
    n = int(opt("--requests", 500))
    modes = opt("--modes", "sqlite,redis").split(",")
    res, user, sessionid = common.setup_with_owner("api")
    if "redis" in modes:
        atexit.register(delete_redis_keys)  # whatever happens; the Daphnes are stopped by then
    server = common.make_server(user, 27500)
    key = create_key("owner", "bench", ["power.restart", "jobs.cancel"])
    t_start = time.monotonic()

    runs, limits = {}, {}
    for mode in modes:
        runs[mode] = latency(mode, server, key, sessionid, n)
        limits[mode] = the_limit(mode, user, server)
    cost = check_cost(with_redis="redis" in modes)

    ms = 1000
    print(f"\nAPI through Daphne: {n} sequential requests each, one keep-alive connection per column\n")
    table = []
    for mode, out in runs.items():
        for name, times in out["get"].items():
            table.append(
                (
                    mode,
                    f"GET /servers/<id>, {name}",
                    len(times),
                    common.pct(times, 50) * ms,
                    common.pct(times, 99) * ms,
                    max(times) * ms,
                    ",".join(sorted(str(s) for s in out["statuses"][name])),
                )
            )
        table.append(
            (
                mode,
                "POST /servers/<id>/jobs restart",
                len(out["post"]),
                common.pct(out["post"], 50) * ms,
                common.pct(out["post"], 99) * ms,
                max(out["post"]) * ms,
                ",".join(sorted(str(s) for s in out["post_statuses"])),
            )
        )
        t = out["throughput"]
        table.append(
            (
                mode,
                f"GET, {t['clients']} clients at once",
                t["requests"],
                t["p50"] * ms,
                t["p99"] * ms,
                float("nan"),
                ",".join(sorted(str(s) for s in t["statuses"])),
            )
        )
    print(common.table(table, ("mode", "request", "n", "p50 ms", "p99 ms", "max ms", "HTTP")))
    for mode, out in runs.items():
        t = out["throughput"]
        print(
            f"  {mode}: {t['per_s']:.0f} GET/s with {t['clients']} clients; "
            f"{out['duplicates']} duplicate answers among the POSTs; {out['reconnects']} reconnects"
            + (
                f"; {out['redis_connections']:.2f} new Redis connections per keyed GET"
                if "redis_connections" in out
                else ""
            )
        )

    print("\napi.ratelimit.check in this process, per call\n")
    print(
        common.table(
            [
                (
                    name,
                    c["calls"],
                    c["mean"] * 1e6,
                    common.pct(c["times"], 50) * 1e6,
                    common.pct(c["times"], 99) * 1e6,
                )
                for name, c in cost.items()
            ],
            ("cache", "calls", "mean us", "p50 us", "p99 us"),
        )
    )

    print(f"\nThe limit: L4D2_API_RATE_PER_MINUTE={LIMIT}, {LIMIT_REQUESTS} requests with a fresh key\n")
    print(
        common.table(
            [
                (
                    mode,
                    lim["processes"],
                    lim["ok"],
                    lim["refused"],
                    lim["other"],
                    "yes" if lim["in_order"] else "no",
                    lim["retry_after"],
                    "-".join(map(str, lim["retry_range"])) if lim["retry_range"] else "",
                    lim["took"] * ms,
                )
                for mode, lim in limits.items()
            ],
            (
                "mode",
                "Daphnes",
                "200",
                "429",
                "other",
                "60 then 40",
                "Retry-After",
                "its values s",
                "took ms",
            ),
        )
    )
    print()

    for mode, out in runs.items():
        gets = out["get"]
        get_ok = all(s == {200} for s in out["statuses"].values())
        p50, p99 = common.pct(gets["key"], 50), common.pct(gets["key"], 99)
        res.add(f"{mode} GET /servers/<id> p50", round(p50 * ms, 2), "", None, "ms")
        res.add(
            f"{mode} GET /servers/<id> p99",
            round(p99 * ms, 2),
            f"<= {GET_P99_MS}",
            get_ok and p99 * ms <= GET_P99_MS,
            "ms",
        )
        posts = out["post"]
        post_ok = out["post_statuses"] == {201, "cancel 200"} and out["duplicates"] == 0
        res.add(f"{mode} POST .../jobs restart p50", round(common.pct(posts, 50) * ms, 2), "", None, "ms")
        res.add(
            f"{mode} POST .../jobs restart p99",
            round(common.pct(posts, 99) * ms, 2),
            f"<= {POST_P99_MS}",
            post_ok and common.pct(posts, 99) * ms <= POST_P99_MS,
            "ms",
        )
        diff = p50 - common.pct(gets["key, no check"], 50)
        res.add(
            f"{mode} GET p50 with check - without",
            round(diff * ms, 3),
            f"<= {CHECK_MS:g}",
            get_ok and diff * ms <= CHECK_MS,
            "ms",
        )
        res.add(
            f"{mode} GET p50 with a session (no key)",
            round(common.pct(gets["session"], 50) * ms, 2),
            "",
            None,
            "ms",
        )
        if "redis_connections" in out:
            res.add(f"{mode} new Redis connections per keyed GET", round(out["redis_connections"], 2))
        t = out["throughput"]
        res.add(f"{mode} GET throughput, {t['clients']} clients", round(t["per_s"]), "", None, "req/s")
    for name, c in cost.items():
        res.add(
            f"check() {name} cache, mean per request",
            round(c["mean"] * 1e6, 1),
            f"<= {CHECK_MS * 1000:g}",
            c["mean"] <= CHECK_MS / 1000,
            "us",
        )
        res.add(f"check() {name} cache p99", round(common.pct(c["times"], 99) * 1e6, 1), "", None, "us")
    for mode, lim in limits.items():
        exact = lim["ok"] == LIMIT and lim["refused"] == LIMIT_REQUESTS - LIMIT and lim["in_order"]
        every = lim["retry_after"] == lim["refused"] and lim["retry_sane"]
        res.add(
            f"{mode} limit {LIMIT}/min: 200 / 429 of {LIMIT_REQUESTS}",
            f"{lim['ok']} / {lim['refused']}",
            f"{LIMIT} / {LIMIT_REQUESTS - LIMIT}",
            exact,
        )
        res.add(
            f"{mode} 429s with Retry-After", lim["retry_after"], f"{LIMIT_REQUESTS - LIMIT}", every and exact
        )
    res.print()
    print(f"\n(api bench took {time.monotonic() - t_start:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
