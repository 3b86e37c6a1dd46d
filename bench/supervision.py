"""Supervision at scale: 100 simulated servers on one node, watched by one real worker.

    .venv/bin/python bench/supervision.py [--servers 100] [--kills 20] [--idle 60] [--json out.json]

Setup: one install by the steamcmd simulator, copied for every server (a real
install is two steamcmd runs each, which measures nothing here); then a real
`runworker --concurrency 8` starts them all (start jobs), so the worker launched
every srcds and its supervisor runs as in production (L4D2_MONITOR_SECONDS=5,
A2S_INFO + A2S_PLAYER of all servers at once on every pass).
Measured:
- full pass: the worker's own "full pass" debug log lines (process checks of all
  servers, A2S of all of them, the database), over the idle minute;
- idle CPU: the worker process's user + system CPU time over that minute, in
  percent of one core (its job loop included: that is what the host pays);
- crash detection: kill -9 of one srcds at a time (auto-restart off, so what is
  measured is the detection, not the restarts), from just before the kill to the
  ServerCrash row's `at` (the same host's clock), once each for `--kills` servers;
  then, with a new worker that did not launch them (no exit status to be told of),
  5 more: found by the next full pass, so within one monitor interval.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import sys
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

PASS_LINE = re.compile(r"full pass: (\d+) servers in ([\d.]+) s")
MONITOR_SECONDS = 5  # the default L4D2_MONITOR_SECONDS, which the bench keeps
ORPHAN_KILLS = 5


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def install_all(servers):
    """One real simulated install, copied into every server's install dir."""
    from hostctl import l4d2
    from servers import l4d2_facade

    first = l4d2_facade.spec_for(servers[0])
    assert l4d2.install(first, lambda *_: None, config=l4d2_facade.host_config()) == 0
    for server in servers[1:]:
        shutil.copytree(first.install_dir, l4d2_facade.spec_for(server).install_dir)


def srcds_pid(server):
    return int((common.DATA / "servers" / str(server.id) / "srcds.pid").read_text().split()[0])


def kill_our_servers():
    root = str(common.DATA / "servers")
    for proc in psutil.process_iter(["cmdline"]):
        try:
            if any(root in part for part in proc.info["cmdline"] or ()) or root in (proc.cwd() or ""):
                proc.kill()
        except psutil.Error:
            pass


def kill_one_by_one(servers, spread):
    """kill -9 each server's srcds at a random moment; seconds from each kill to its ServerCrash row."""
    from servers.models import ServerCrash

    delays = []
    for server in servers:
        time.sleep(random.uniform(0.2, spread))  # anywhere in the monitor interval
        pid = srcds_pid(server)
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        crash = common.wait_until(ServerCrash.objects.filter(server=server).first, timeout=30)
        delays.append(crash.at.timestamp() - killed_at)
    return delays


def main():
    n_servers = int(opt("--servers", 100))
    n_kills = int(opt("--kills", 20))
    idle = float(opt("--idle", 60))
    # One owner queues a start for each of the 100 servers at once: lift the fair-queue cap.
    common.setup("supervision", HOSTCTL_SIM_SECONDS="0.1", L4D2_MAX_QUEUED_PER_OWNER=n_servers + 10)
    res = common.Results("supervision")
    from jobs.models import Job
    from servers.models import Server

    owner = common.make_user("owner")
    servers = [common.make_server(owner, port) for port in common.free_game_ports(n_servers, start=41000)]
    install_all(servers)
    env = common.base_env(common.DATA, HOSTCTL_SIM_SECONDS="0.1", L4D2_LOG_LEVEL="DEBUG")
    worker = common.start_worker("--poll", "0.2", "--concurrency", "8", env=env)
    log_path = common.DATA / "worker.log"
    try:
        t0 = time.monotonic()
        for server in servers:
            Job.enqueue(server, "start", owner)
        common.wait_until(
            lambda: (
                Server.objects.filter(actual_state="running").count() == n_servers
                and not Job.objects.exclude(state="succeeded").exists()
            ),
            timeout=600,
            interval=0.5,
        )
        print(f"{n_servers} servers started by the worker in {time.monotonic() - t0:.0f} s", flush=True)
        time.sleep(6)  # one more pass, so every server has been seen running

        # Idle: nothing changes; the worker only supervises.
        proc = psutil.Process(worker.pid)
        log_from = log_path.stat().st_size
        cpu0, w0 = sum(proc.cpu_times()[:2]), time.monotonic()
        time.sleep(idle)
        cpu_percent = (sum(proc.cpu_times()[:2]) - cpu0) / (time.monotonic() - w0) * 100
        with open(log_path) as log:
            log.seek(log_from)
            passes = [(int(n), float(s)) for n, s in PASS_LINE.findall(log.read())]
        durations = [s for n, s in passes if n == n_servers]
        print(f"idle {idle:.0f} s: worker CPU {cpu_percent:.1f} % of one core, {len(durations)} full passes")

        # Crash detection, one at a time.
        Server.objects.update(auto_restart=False)
        victims = random.sample(servers, min(n_kills + ORPHAN_KILLS, n_servers))
        delays = kill_one_by_one(victims[:n_kills], spread=1.0)
        print(f"{len(delays)} kills detected: p50 {common.pct(delays, 50) * 1000:.0f} ms")

        # A new worker that did not start them: no exit status, the next full pass finds them.
        common.stop_proc(worker)
        worker = common.start_worker("--poll", "0.2", env=env, log_name="worker-2")
        common.wait_until(lambda: PASS_LINE.search((common.DATA / "worker-2.log").read_text()), timeout=60)
        orphan_delays = kill_one_by_one(victims[n_kills:], spread=MONITOR_SECONDS)
    finally:
        common.stop_proc(worker)
        kill_our_servers()

    print()
    res.add("servers supervised by one worker", n_servers)
    res.add("full pass median", common.median(durations) * 1000, unit="ms")
    res.add("full pass max", max(durations) * 1000, "<= 1000", max(durations) <= 1.0, unit="ms")
    res.add("full passes in the idle minute", len(durations), ">= 10", len(durations) >= 10)
    res.add("worker CPU while supervising", cpu_percent, "<= 10", cpu_percent <= 10, unit="% core")
    p99 = common.pct(delays, 99)
    res.add("crash detected (launched) p50", common.pct(delays, 50) * 1000, unit="ms")
    res.add("crash detected (launched) p99", p99 * 1000, "<= 2000", p99 <= 2.0, unit="ms")
    res.add("crashes detected", f"{len(delays)}/{n_kills}", f"{n_kills}/{n_kills}", len(delays) == n_kills)
    worst, limit = max(orphan_delays), MONITOR_SECONDS + 1
    target = f"<= {limit * 1000:.0f}"
    res.add("crash detected (worker restarted) max", worst * 1000, target, worst <= limit, unit="ms")
    res.print()
    res.dump()


if __name__ == "__main__":
    main()
