"""The supervisor: keeps each server's actual state, map and players true (DESIGN.md §8).

One per worker process (settings.WORKER_LOOPS), watching the servers of its node.
Every L4D2_MONITOR_SECONDS a full pass:
1. one query for the servers, one for those with a job running: a server in the
   middle of a job is the job's (a Stop from the panel is never a crash);
2. hostctl checks every process (pid file + creation time); a process that is gone
   while its pid file is still there died on its own: deaths are handled first,
   so they never wait on A2S (crashes.record: reason, restart, crash-loop guard);
3. A2S_INFO + A2S_PLAYER for every live server at once (asyncio, one timeout for all);
4. running / unresponsive (no answer for L4D2_UNRESPONSIVE_SECONDS, counted from
   the later of the last answer and the process's start, like LinuxGSM's grace
   after a start), map and players: a row is written only if one of them changed,
   then its live views are nudged. The pass itself is one tiny write (SupervisorBeat);
5. resource samples every L4D2_SAMPLE_SECONDS (samples.py).
A server this worker launched wakes it the moment it exits (hostctl reaps it and
reports the exit status): a short pass without A2S handles the death at once.
"""

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.utils import timezone

from l4d2site.job_states import ACTIVE_STATES
from l4d2site.loops import WorkerLoop

from . import crashes, l4d2_facade
from .live import notify_server
from .models import ActualState, DesiredState, Server, SupervisorBeat
from .samples import Sampler

log = logging.getLogger(__name__)

A2S_TIMEOUT = 0.75  # for all the servers' queries together: a pass stays under a second
JOINED_SLACK = 10.0  # seconds: A2S durations jitter; within this a player's join time stays put
LIVE = (ActualState.RUNNING, ActualState.UNRESPONSIVE)


class Supervisor(WorkerLoop):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.interval = settings.MONITOR_SECONDS
        self.next_full = 0.0  # time.monotonic() of the next full pass
        self.exited = threading.Event()
        self.started = time.time()
        self.answered = {}  # server id -> time.time() of its last A2S answer
        self.sampler = Sampler()
        l4d2_facade.on_server_exit(self._on_exit)

    def _on_exit(self, event):
        # In hostctl's waiter thread: only note it and wake the loop.
        self.exited.set()
        self.wake()

    def close(self):
        l4d2_facade.off_server_exit(self._on_exit)

    def run_once(self):
        exited = self.exited.is_set()
        self.exited.clear()  # before the pass: an exit during it wakes us again
        if time.monotonic() >= self.next_full:
            began = time.monotonic()
            self.next_full = began + settings.MONITOR_SECONDS
            count = self.supervise(full=True)
            log.debug("full pass: %d servers in %.3f s", count, time.monotonic() - began)
        elif exited:
            self.supervise(full=False)
        # The loop sleeps `interval` (or until woken): a woken pass must not push the next full one back.
        self.interval = max(0.05, self.next_full - time.monotonic())

    # --- one pass ----------------------------------------------------------------

    def mine(self):
        return Server.objects.on_node(self.node_name)

    def supervise(self, *, full):
        servers = list(self.mine().order_by())
        busy = set(self.mine().filter(jobs__state__in=ACTIVE_STATES).values_list("pk", flat=True))
        servers = [server for server in servers if server.pk not in busy]
        checks = {server.pk: l4d2_facade.check_process(server) for server in servers}
        for server in servers:
            if checks[server.pk].state == l4d2_facade.DEAD:
                self.handle_death(server, checks[server.pk])
        alive = {pk: check for pk, check in checks.items() if check.state == l4d2_facade.ALIVE}
        readings = {}
        if full:
            readings = l4d2_facade.query_a2s([s for s in servers if s.pk in alive], timeout=A2S_TIMEOUT)
        now = timezone.now()
        for server in servers:
            if checks[server.pk].state != l4d2_facade.DEAD:
                self.observe(server, checks[server.pk], readings.get(server.pk), full, now)
        if full:
            self.beat(now)
            self.sampler.sample(alive, readings)
        return len(servers)

    def handle_death(self, server, check):
        if server.desired_state == DesiredState.RUNNING:
            crashes.record(server, check, l4d2_facade.console_tail(server))
            return
        # Not meant to run (a Stop was queued meanwhile): a death, but not a crash.
        l4d2_facade.forget_dead(server, check.pid)
        self.save(server, {"actual_state": ActualState.STOPPED}, timezone.now())

    def observe(self, server, check, reading, full, now):
        if check.state == l4d2_facade.NOT_INSTALLED:
            fields = {"actual_state": ActualState.NOT_INSTALLED}
        elif check.state == l4d2_facade.STOPPED:
            # A crashed server stays "crashed" until it runs again or someone stops it.
            keep = server.actual_state == ActualState.CRASHED and server.desired_state == DesiredState.RUNNING
            fields = {"actual_state": ActualState.CRASHED if keep else ActualState.STOPPED}
        else:
            fields = self.alive_fields(server, check, reading, full)
        if fields["actual_state"] not in LIVE:
            fields.update(map_seen="", player_count=None, players=[])
        self.save(server, fields, now)

    def alive_fields(self, server, check, reading, full):
        if reading is not None:
            self.answered[server.pk] = time.time()
            state = ActualState.RUNNING
        else:
            last = max(self.answered.get(server.pk, self.started), check.started)
            silent = full and time.time() - last >= settings.UNRESPONSIVE_SECONDS
            state = ActualState.UNRESPONSIVE if silent else server.actual_state
            if state not in LIVE:
                state = ActualState.RUNNING  # alive, maybe still loading its map
        fields = {"actual_state": state}
        started = datetime.fromtimestamp(check.started, UTC)
        since = server.actual_state_since
        if state == ActualState.RUNNING and (since is None or abs((since - started).total_seconds()) > 1):
            fields["actual_state_since"] = started  # uptime is the process's
        if reading is not None:
            fields.update(
                map_seen=reading.map, player_count=reading.player_count, max_players_seen=reading.max_players
            )
            if reading.map and reading.map != server.last_map:
                # Kept while it is down: a restart goes back to it (applied.start_map).
                fields.update(last_map=reading.map, last_map_at=timezone.now())
            if reading.players is not None:
                fields["players"] = merge_players(server.players, reading.players)
        return fields

    def save(self, server, fields, now):
        """Write what changed (nothing, mostly), unless a job took the server over meanwhile."""
        changes = {name: value for name, value in fields.items() if getattr(server, name) != value}
        if not changes:
            return False
        if "actual_state" in changes:
            changes.setdefault("actual_state_since", now)
            changes["actual_state_checked_at"] = now
        rows = Server.objects.filter(pk=server.pk, actual_state=server.actual_state)
        won = rows.exclude(jobs__state__in=ACTIVE_STATES).update(**changes, updated_at=now)
        if won:
            notify_server(server.pk)
        return bool(won)

    def beat(self, now):
        name = self.node_name or ""
        if not SupervisorBeat.objects.filter(node_name=name).update(checked_at=now):
            SupervisorBeat.objects.update_or_create(node_name=name, defaults={"checked_at": now})


def merge_players(known, players):
    """A2S players as stored: [{name, score, joined}], keeping each known player's join time.

    A2S says how long each player has been connected, which changes on every query;
    storing when they joined instead keeps the row unchanged while nobody joins or scores.
    """
    now = timezone.now()
    joined_before = {p.get("name"): p.get("joined") for p in known if isinstance(p, dict)}
    merged = []
    for player in players:
        joined = now - timedelta(seconds=player.seconds)
        before = _parse(joined_before.get(player.name))
        if before is not None and abs((before - joined).total_seconds()) < JOINED_SLACK:
            joined = before
        merged.append(
            {"name": player.name, "score": player.score, "joined": joined.isoformat(timespec="seconds")}
        )
    return merged


def _parse(value):
    try:
        return datetime.fromisoformat(value) if value else None
    except (TypeError, ValueError):
        return None
