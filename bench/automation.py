"""Automation's steady costs and webhook delivery through a real worker.

    .venv/bin/python bench/automation.py [--json out.json]

- scheduler: one pass of `run_due` (what every worker does every 2 s) with nothing
  due, over 100 and over 10,000 schedules: it must not grow with the number of
  schedules (one indexed query); then one pass that runs 500 due schedules.
- updates: one UpdateWatcher pass over 200 installed servers when the steamcmd
  check is not due (200 appmanifests parsed, 200 console logs looked at), and one
  steamcmd app-info check with the simulator.
- webhooks: 300 job.failed events for servers with a webhook to a local HTTP
  receiver (L4D2_WEBHOOKS_ALLOW_PRIVATE=1), sent by a real `runworker`: time from
  the event to the receiver's answer, and deliveries per second.
"""

from __future__ import annotations

import sys
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

EVENTS = 300


def timed(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return common.median(times) * 1000


def make_schedules(servers, count):
    from django.utils import timezone

    from automation.models import Schedule

    later = timezone.now() + timedelta(days=1)
    Schedule.objects.bulk_create(
        [
            Schedule(
                server=servers[i % len(servers)],
                cron=f"{i % 60} {i % 24} * * *",
                action="stop",
                next_run_at=later,
            )
            for i in range(count)
        ]
    )


def bench_scheduler(res, servers):
    from django.utils import timezone

    from automation.models import Schedule
    from automation.scheduler import run_due

    make_schedules(servers, 100)
    small = timed(lambda: run_due(None), 50)
    make_schedules(servers, 9_900)
    big = timed(lambda: run_due(None), 50)
    due = list(Schedule.objects.order_by("id").values_list("id", flat=True)[:500])
    Schedule.objects.filter(pk__in=due).update(next_run_at=timezone.now() - timedelta(seconds=5))
    t0 = time.perf_counter()
    runs = run_due(None)
    burst = time.perf_counter() - t0
    res.add("idle pass, 100 / 10,000 schedules", f"{small:.2f} / {big:.2f}", "", None, "ms")
    res.add("idle pass ratio 10,000 / 100", round(big / small, 2), "<= 1.5", big / small <= 1.5)
    res.add("idle pass, 10,000 schedules", round(big, 2), "<= 20", big <= 20, "ms")
    res.add("500 due schedules run in one pass", round(len(runs) / burst), "", None, "runs/s")
    res.add("due schedules run exactly once", len(runs), "500", len(runs) == 500)


def bench_updates(res, servers):
    from django.conf import settings

    from automation.updates import UpdateWatcher
    from hostctl import builds
    from servers import l4d2_facade

    for server in servers:
        manifest = builds.manifest_path(settings.HOSTCTL_ROOT / str(server.id))
        manifest.parent.mkdir(parents=True, exist_ok=True)
        manifest.write_text('"AppState"\n{\n\t"appid"\t\t"222860"\n\t"buildid"\t\t"9876543"\n}\n')
        (manifest.parent.parent / "console.log").write_text("Server is hibernating\n" * 1000)
    watcher = UpdateWatcher(identity="bench:1:1", node_name=None)
    t0 = time.perf_counter()
    watcher.run_once()  # the first pass asks steamcmd too
    first = (time.perf_counter() - t0) * 1000
    idle = timed(watcher.run_once, 10)
    check = timed(l4d2_facade.latest_build, 3)
    res.add("watcher pass, 200 servers, no check due", round(idle, 1), "<= 200", idle <= 200, "ms")
    res.add("watcher first pass (with the steamcmd check)", round(first), "", None, "ms")
    res.add("one steamcmd app-info check (simulator)", round(check), "", None, "ms")


class Receiver(BaseHTTPRequestHandler):
    answered: dict = {}

    def do_POST(self):
        import json

        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Receiver.answered[body["job"]["id"]] = time.time()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def bench_webhooks(res, owner, servers):
    from automation.models import Delivery, DeliveryState, Webhook
    from jobs.models import Job, JobState
    from servers import events

    http = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{http.server_address[1]}/hook"
    for server in servers[:10]:
        Webhook.objects.create(owner=owner, server=server, url=url, events=["job.failed"])
    Job.objects.filter(state=JobState.QUEUED).delete()  # the scheduler bench's jobs: not this bench's load
    env = common.base_env(common.DATA, L4D2_WEBHOOKS_ALLOW_PRIVATE="1")
    common.start_worker("--poll", "0.5", env=env)
    jobs = [
        Job.objects.create(server=servers[i % 10], kind="install", state=JobState.FAILED)
        for i in range(EVENTS)
    ]
    emitted = {}
    t0 = time.time()
    for job in jobs:
        emitted[job.id] = time.time()
        events.emit("job.failed", job.server, f"Install failed (job #{job.id}).", job=job)
        time.sleep(0.005)  # 200 events/s, in a steady stream
    common.wait_until(lambda: len(Receiver.answered) >= EVENTS, timeout=120)
    elapsed = max(Receiver.answered.values()) - t0
    latency = [(Receiver.answered[j] - emitted[j]) * 1000 for j in emitted]
    delivered = Delivery.objects.filter(state=DeliveryState.DELIVERED).count()
    http.shutdown()
    res.add("event to receiver p50", round(common.pct(latency, 50)), "", None, "ms")
    p99 = common.pct(latency, 99)
    res.add("event to receiver p99 (worker polls every 1 s)", round(p99), "<= 1500", p99 <= 1500, "ms")
    res.add(f"{EVENTS} events delivered", f"{delivered} in {elapsed:.1f} s", f"{EVENTS}", delivered == EVENTS)


def main():
    common.setup("automation")
    res = common.Results("automation")
    owner = common.make_user("owner")
    servers = [common.make_server(owner, 28000 + i) for i in range(200)]
    started = time.monotonic()
    bench_scheduler(res, servers)
    bench_updates(res, servers)
    bench_webhooks(res, owner, servers)
    print()
    res.print()
    print(f"\n(automation bench took {time.monotonic() - started:.0f} s)")
    res.dump()


if __name__ == "__main__":
    main()
