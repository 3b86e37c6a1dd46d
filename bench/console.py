"""Server console latency: a command to its first output line, and console lines to 100 viewers.

    .venv/bin/python bench/console.py [--modes sqlite,redis] [--servers 20] [--viewers 100]
                                      [--rate 20] [--seconds 10] [--commands 100] [--json out.json]

Everything is the product's own: simulated srcds servers (hostctl/sim/srcds.py,
installed and started through servers.l4d2_facade, like a start job does), a real
`runworker` whose console pump tails their console.log and delivers commands, and
a real Daphne. Clients are bench/wsclient.py WebSocket connections, which do what
the console page's script does (it sends commands over the same socket).

1. Command round trip: one client on one server's console sends `echo mark-<i>`
   ({"type": "command"}), one every 0.3 s (the per-user limit is 5 a second), and
   times it until the line `mark-<i>` arrives: WebSocket -> ConsoleCommand row ->
   the pump (nudged through Redis, or its poll) -> the console FIFO -> srcds
   prints -> console.log -> the pump -> ConsoleLine rows -> the tail -> WebSocket.
2. Fan-out: every server prints `tick <n> <time.time()>` at --rate lines/s
   (`sim_tick`) while --viewers clients watch the consoles (spread evenly); latency
   is print -> receive; lost and repeated lines per viewer are counted against the
   rows stored between the first and last line it saw.
Both with SQLite alone (tails and pump poll) and with Redis (nudges).
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import wsclient  # noqa: E402


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("0.0.0.0", 0))
        return sock.getsockname()[1]


# --- servers ------------------------------------------------------------------------


def start_servers(user, count):
    """`count` simulated servers, installed and running (children of this process)."""
    from django.db import connection

    from servers import l4d2_facade

    servers = [common.make_server(user, free_udp_port(), name=f"bench-console-{i}") for i in range(count)]
    atexit.register(stop_servers, servers)  # before any starts: a failed start must not leave the others

    def bring_up(server):
        said = []
        try:
            for kind in ("install", "start"):
                code = l4d2_facade.run(kind, server, lambda stream, text: said.append(text))
                if code:
                    raise RuntimeError(f"{kind} of server {server.id} failed with {code}: {said[-5:]}")
            l4d2_facade.refresh_actual_state(server)
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(bring_up, servers))
    return servers


def stop_servers(servers):
    from servers import l4d2_facade

    for server in servers:
        try:
            l4d2_facade.run("stop", server, lambda stream, text: None)
        except Exception as exc:  # the bench is ending: report, never hide the real error
            print(f"stopping server {server.id} failed: {exc}", file=sys.stderr)


def last_seq(server):
    from servers.models import ConsoleLine

    return ConsoleLine.objects.last_seq(server.id)


def wait_for_pump(server):
    """The worker's pump has caught up with the server's console (its startup lines are stored)."""
    from servers.models import ConsoleLine

    common.wait_until(
        lambda: ConsoleLine.objects.filter(server=server, line__startswith="Assigned anonymous").exists(), 60
    )


# --- 1. command round trip --------------------------------------------------------------


class CommandClient(wsclient.Client):
    """Sends `echo mark-<i>` and records when the `mark-<i>` line comes back."""

    def __init__(self, *args):
        super().__init__(*args)
        self.sent = {}
        self.answered = {}
        self.errors = []

    def on_message(self, data):
        now = time.time()
        message = json.loads(data)
        if message.get("type") == "error":
            self.errors.append(message.get("error"))
        for row in message.get("lines", []):
            if row["stream"] == "stdout" and row["line"].startswith("mark-"):
                self.answered.setdefault(row["line"], now)


async def command_round_trips(port, path, cookie, count):
    client = CommandClient(port, path, cookie)
    await client.connect()
    follow = asyncio.create_task(client.follow())
    await asyncio.sleep(0.5)
    for i in range(count):
        mark = f"mark-{i}-{time.monotonic_ns()}"
        client.sent[mark] = time.time()
        client.send_text(json.dumps({"type": "command", "command": f"echo {mark}"}))
        await asyncio.sleep(0.3)
    deadline = time.monotonic() + 10
    while len(client.answered) < count and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    follow.cancel()
    client.writer.close()
    latencies = [client.answered[m] - t for m, t in client.sent.items() if m in client.answered]
    return latencies, count - len(latencies), client.errors, client.sent, client.answered


STEPS = ("sent -> stored", "stored -> delivered", "delivered -> answer stored", "answer stored -> received")


def command_steps(server, sent, answered):
    """Where each command's time went, from the rows' own timestamps: {step: [seconds]}."""
    from servers.models import ConsoleCommand, ConsoleLine

    commands = {
        text.removeprefix("echo "): (created.timestamp(), delivered.timestamp() if delivered else None)
        for text, created, delivered in ConsoleCommand.objects.filter(server=server).values_list(
            "text", "created_at", "delivered_at"
        )
    }
    stored = dict(
        (line, at.timestamp())
        for line, at in ConsoleLine.objects.filter(server=server, line__in=list(answered)).values_list(
            "line", "created_at"
        )
    )
    steps = {step: [] for step in STEPS}
    for mark, t_sent in sent.items():
        if mark not in answered or mark not in commands or mark not in stored or not commands[mark][1]:
            continue
        created, delivered = commands[mark]
        for step, (a, b) in zip(
            STEPS,
            (
                (t_sent, created),
                (created, delivered),
                (delivered, stored[mark]),
                (stored[mark], answered[mark]),
            ),
            strict=True,
        ):
            steps[step].append(b - a)
    return steps


# --- 2. fan-out ----------------------------------------------------------------------------


def cpu_seconds(*procs):
    import psutil

    total = []
    for proc in procs:
        times = psutil.Process(proc.pid).cpu_times()
        total.append(times.user + times.system)
    return total


def fan_out(port, servers, cookie, viewers, rate, seconds, watched):
    from servers import l4d2_facade
    from servers.models import ConsoleLine

    per_server = max(1, viewers // len(servers))
    paths = [f"/ws/servers/{s.id}/console?after={last_seq(s)}" for s in servers]
    client = subprocess.Popen(
        [common.PY, str(common.BENCH / "wsclient.py"), str(port), ",".join(paths)]
        + [cookie, str(per_server), str(seconds + 3)],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = client.stdout.readline()
    if line.strip() != "READY":
        raise RuntimeError(f"viewers failed before READY: {line!r}")
    cpu_before = cpu_seconds(*watched, client)
    for server in servers:
        l4d2_facade.send_console(server.id, f"sim_tick {rate} {int(rate * seconds)}")
    time.sleep(seconds)
    cpu_after = cpu_seconds(*watched, client)
    cpu = [(after - before) / seconds for before, after in zip(cpu_before, cpu_after, strict=True)]
    out, _ = client.communicate(timeout=seconds + 60)
    for server in servers:
        l4d2_facade.send_console(server.id, "sim_tick 0")
    results = json.loads(out.strip().splitlines()[-1])
    by_path = {f"/ws/servers/{s.id}/console": s.id for s in servers}
    lost = repeated = 0
    for result in results:
        repeated += result["repeats"]
        server_id = by_path[result["path"].split("?")[0]]
        if result["distinct"]:
            expected = ConsoleLine.objects.filter(
                server_id=server_id, seq__gte=result["min_seq"], seq__lte=result["max_seq"]
            ).count()
            lost += expected - result["distinct"]
    latencies = [x for r in results for x in r["latencies"]]
    return {
        "viewers": len(results),
        "ticks": len(latencies),
        "p50": common.pct(latencies, 50),
        "p99": common.pct(latencies, 99),
        "max": max(latencies, default=float("nan")),
        "lost": lost,
        "repeated": repeated,
        "errors": [r["error"] for r in results if r["error"]][:3],
        "cpu": cpu,  # share of one core: worker, Daphne, the viewers' process
    }


# --- main ------------------------------------------------------------------------------------


def main():
    modes = opt("--modes", "sqlite,redis").split(",")
    n_servers, viewers = int(opt("--servers", 20)), int(opt("--viewers", 100))
    rate, seconds, commands = (
        float(opt("--rate", 20)),
        float(opt("--seconds", 10)),
        int(opt("--commands", 100)),
    )
    res, user, cookie = common.setup_with_owner("console", HOSTCTL_SIM_SECONDS="0.1")
    t_start = time.monotonic()
    servers = start_servers(user, n_servers)
    print(f"{n_servers} simulated servers up in {time.monotonic() - t_start:.0f} s", flush=True)
    rows, step_rows = [], []
    for mode in modes:
        redis = {"REDIS_URL": common.REDIS_URL} if mode == "redis" else {}
        env = common.base_env(common.DATA, HOSTCTL_SIM_SECONDS="0.1", **redis)
        port = common.free_port()
        daphne = common.start_daphne(port, env, log_name=f"daphne-{mode}")
        worker = common.start_worker("--poll", "0.5", env=env, log_name=f"worker-{mode}")
        try:
            for server in servers:
                wait_for_pump(server)
            path = f"/ws/servers/{servers[0].id}/console?after={last_seq(servers[0])}"
            latencies, missing, errors, sent, answered = asyncio.run(
                command_round_trips(port, path, cookie, commands)
            )
            steps = command_steps(servers[0], sent, answered)
            fan = fan_out(port, servers, cookie, viewers, rate, seconds, (worker, daphne))
        finally:
            common.stop_proc(daphne)
            common.stop_proc(worker)
        rows.append((mode, latencies, missing, errors, fan))
        step_rows.append((mode, steps))

    print(f"\nServer console: {n_servers} simulated servers, real runworker + Daphne\n")
    print(
        common.table(
            [
                (
                    mode,
                    len(lat),
                    common.pct(lat, 50) * 1000,
                    common.pct(lat, 99) * 1000,
                    max(lat) * 1000,
                    missing,
                )
                for mode, lat, missing, _, _ in rows
            ],
            ("mode", "commands", "cmd->output p50 ms", "p99 ms", "max ms", "unanswered"),
        )
    )
    print()
    print(
        common.table(
            [
                (
                    mode,
                    f["viewers"],
                    f["ticks"],
                    f["p50"] * 1000,
                    f["p99"] * 1000,
                    f["max"] * 1000,
                    f["lost"],
                    f["repeated"],
                )
                for mode, _, _, _, f in rows
            ],
            ("mode", "viewers", "lines seen", "line->viewer p50 ms", "p99 ms", "max ms", "lost", "repeated"),
        )
    )
    print("\nWhere a command's time goes (row timestamps; p50 / p99 ms):\n")
    print(
        common.table(
            [
                (
                    mode,
                    *(
                        f"{common.pct(v, 50) * 1000:.0f} / {common.pct(v, 99) * 1000:.0f}"
                        for v in steps.values()
                    ),
                )
                for mode, steps in step_rows
            ],
            ("mode", *STEPS),
        )
    )
    print()
    print(
        common.table(
            [(mode, *(f"{share:.0%}" for share in f["cpu"])) for mode, _, _, _, f in rows],
            ("mode", "worker CPU", "Daphne CPU", "viewers' CPU"),
        )
    )
    for mode, _, _, errors, fan in rows:
        if errors or fan["errors"]:
            print(f"  {mode}: errors {errors[:3]} {fan['errors']}")
    print()
    command_targets = {"sqlite": 0.250, "redis": 0.100}
    for mode, latencies, missing, _, fan in rows:
        target = command_targets.get(mode)
        p99 = common.pct(latencies, 99)
        res.add(
            f"{mode} command -> first output p50", round(common.pct(latencies, 50) * 1000, 1), "", None, "ms"
        )
        res.add(
            f"{mode} command -> first output p99",
            round(p99 * 1000, 1),
            f"<= {target * 1000:.0f}" if target else "",
            (p99 <= target and missing == 0) if target else None,
            "ms",
        )
        res.add(
            f"{mode} console line -> {fan['viewers']} viewers p50",
            round(fan["p50"] * 1000, 1),
            "",
            None,
            "ms",
        )
        res.add(
            f"{mode} console line -> {fan['viewers']} viewers p99 ({n_servers} servers x {rate:g} lines/s)",
            round(fan["p99"] * 1000, 1),
            "<= 250",
            fan["p99"] <= 0.250,
            "ms",
        )
        res.add(
            f"{mode} viewers lost/repeated lines",
            f"{fan['lost']}/{fan['repeated']}",
            "0/0",
            fan["lost"] == 0 and fan["repeated"] == 0 and fan["ticks"] > 0,
        )
    res.print()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n(console bench took {time.monotonic() - t_start:.0f} s; load average at the end {load})")
    res.dump()


if __name__ == "__main__":
    main()
