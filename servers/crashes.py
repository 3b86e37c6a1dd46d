"""A server that died while it should have been running: record the crash, decide the restart.

The supervisor calls `record` when a server's pid file names a process that is
gone (a stop from the panel removes the pid file first, and a server with a job
running is never judged). `servers` does not import `jobs`, so the restart is
asked for through the `restart_requested` signal, which jobs answers
(jobs/autorestart.py) by queueing the job inside this same transaction: the
crash, the server's new state and the job commit together, or none of them.

Crash-loop guard: the first CRASH_LOOP_COUNT crashes within CRASH_LOOP_WINDOW are
restarted; the next one (the 4th in 10 minutes) pauses automatic restarts until a
person starts or restarts the server (Job.enqueue clears `autorestart_paused_at`).
"""

import logging

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

import activity
from l4d2site.job_states import ACTIVE_STATES

from . import events, l4d2_facade
from .live import notify_server
from .models import (
    CRASH_LOOP_COUNT,
    CRASH_LOOP_WINDOW,
    PAUSED_NOTICE,
    ActualState,
    CrashAction,
    DesiredState,
    Server,
    ServerCrash,
)

log = logging.getLogger(__name__)

# kwargs: crash (ServerCrash). A receiver queues the restart job and returns it.
restart_requested = Signal()


def has_active_job(server_id):
    return Server.objects.filter(pk=server_id, jobs__state__in=ACTIVE_STATES).exists()


def record(server, check, lines):
    """Record the death hostctl saw (`check`: a DEAD ProcessCheck), with the console's last `lines`.

    Returns the ServerCrash, or None if, by the time the transaction runs, a job has
    taken the server over or it is no longer meant to run (the next pass looks again).
    """
    found = l4d2_facade.classify_crash(check.exit_status, lines)
    now = timezone.now()
    with transaction.atomic():
        # Locked, so a Stop (which sets desired_state) or a job claim waits for this decision.
        fresh = Server.objects.select_for_update().filter(pk=server.pk).first()
        if fresh is None or fresh.desired_state != DesiredState.RUNNING or has_active_job(fresh.pk):
            return None
        crash = ServerCrash.objects.create(
            server=fresh,
            at=now,
            reason=found.kind,
            detail=found.detail,
            exit_status=check.exit_status,
            last_lines=lines,
            action=_decide(fresh, now),
        )
        fields = {
            "actual_state": ActualState.CRASHED,
            "actual_state_since": now,
            "actual_state_checked_at": now,
        }
        fields.update(map_seen="", player_count=None, players=[], updated_at=now)
        if crash.action == CrashAction.PAUSED:
            fields["autorestart_paused_at"] = now
            if not fresh.autorestart_paused_at:  # paused now, not still paused from before
                detail = {"reason": crash.get_reason_display()}
                activity.record("server.autorestart_paused", via="monitor", server=fresh, detail=detail)
        Server.objects.filter(pk=fresh.pk).update(**fields)
        job = None
        if crash.action == CrashAction.RESTARTED:
            job = next(
                (job for _, job in restart_requested.send(sender=ServerCrash, crash=crash) if job), None
            )
    # Only now: had the transaction failed, the pid file would let the next pass try again.
    l4d2_facade.forget_dead(fresh, check.pid)
    notify_server(fresh.pk)
    _announce(fresh, crash, job)
    log.warning("server %s crashed (%s): %s", fresh.pk, crash.reason, crash.get_action_display())
    return crash


def _decide(server, now):
    if not server.auto_restart:
        return CrashAction.OFF
    if server.autorestart_paused_at:
        return CrashAction.PAUSED  # started by something other than a person: still paused
    recent = server.crashes.filter(at__gte=now - CRASH_LOOP_WINDOW)
    # A pause ends when a person starts the server: crashes before it no longer count.
    paused = server.crashes.filter(action=CrashAction.PAUSED).values_list("at", flat=True).first()
    if paused:
        recent = recent.filter(at__gt=paused)
    return CrashAction.PAUSED if recent.count() >= CRASH_LOOP_COUNT else CrashAction.RESTARTED


def _announce(server, crash, job):
    text = f"{server.name} crashed ({crash.get_reason_display()}): {crash.detail}"
    if crash.action == CrashAction.RESTARTED and job is not None:
        text += f" Restarting it (job #{job.pk})."
    elif crash.action == CrashAction.OFF:
        text += " Automatic restarts are off for this server."
    events.emit("server.crashed", server, text, job=job)
    if crash.action == CrashAction.PAUSED:
        events.emit("server.autorestart_paused", server, f"{server.name}: {PAUSED_NOTICE}")
