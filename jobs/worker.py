"""The job worker: claims queued jobs, runs them through hostctl, records every line.

One `Worker` per host process. The main thread claims jobs, flushes log batches,
and watches for cancel requests; each claimed job runs in a pool thread with its
own `LogSink` and `CancelToken`. Process handles never leave this process: a
cancel request lives in the database (state `cancelling`) and the main thread
turns it into the job's token firing.
"""

import logging
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import psutil
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from hostctl.l4d2 import HostError
from hostctl.process import CancelToken
from servers import l4d2_facade
from servers.models import Node, Server

from .dbretry import retry_locked
from .listener import ChannelListener
from .logsink import LogSink
from .models import Job, JobState, LogStream
from .notify import notify_job

log = logging.getLogger(__name__)

TICK = 0.01  # main loop period while jobs run: due log flushes (see logsink.MAX_DELAY)
IDLE_TICK = 0.1  # main loop period with nothing running
CANCEL_CHECK = 0.1  # how often the database is asked for cancel requests
CLAIM_CANDIDATES = 20
STALE_NODE_CHECK = 10.0  # seconds between looks for jobs of nodes that went silent


def process_identity(pid=None):
    """host:pid:start-time; the start time tells a live worker from a reused pid."""
    proc = psutil.Process(pid)
    return f"{socket.gethostname()}:{proc.pid}:{proc.create_time():.2f}"


def identity_alive(identity):
    host, _, rest = identity.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None  # another host: cannot tell from here
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == started
    except psutil.Error:
        return False


@dataclass
class RunningJob:
    job: Job
    sink: LogSink
    token: CancelToken = field(default_factory=CancelToken)
    cancel_seen: bool = False
    future: object = None


class Worker:
    def __init__(self, concurrency=2, poll=1.0, once=False, drain_timeout=60.0, node=None):
        self.node_name = node
        self.node = None
        self.concurrency = concurrency
        self.poll = poll
        self.once = once
        self.drain_timeout = drain_timeout
        self.identity = process_identity()
        self.running = {}
        self.stopping_since = None  # first signal: stop claiming
        self.aborting = False  # second signal (or drain timeout): cancel running jobs
        self.nudge = threading.Event()  # set by the channel-layer listener: look now

    # --- main loop ---------------------------------------------------------

    def run(self):
        self._install_signal_handlers()
        log.info("worker %s started (concurrency %s, poll %ss)", self.identity, self.concurrency, self.poll)
        self._heartbeat()
        self.recover_orphans()
        listener = ChannelListener(self.nudge) if settings.REDIS_URL else None
        if listener:
            listener.start()
        # When each periodic duty is next due (time.monotonic()).
        self.due = dict.fromkeys(("claim", "cancels", "heartbeat", "stale"), 0.0)
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="job") as pool:
            while True:
                try:
                    if not self._tick(pool):
                        break
                except DatabaseError as exc:
                    # The database restarted or a lock outlived every retry: keep the
                    # running jobs going and try again shortly rather than dying.
                    log.warning("database error in the worker loop, retrying: %s", exc)
                    close_old_connections()
                    time.sleep(1)
        if listener:
            listener.stop()
        connection.close()
        log.info("worker %s stopped", self.identity)

    def _tick(self, pool):
        """One turn of the main loop; False once the worker should exit."""
        close_old_connections()
        now = time.monotonic()
        due = self.due
        nudged = self.nudge.is_set()
        self.nudge.clear()
        self._reap_finished()
        for running in list(self.running.values()):
            running.sink.flush_if_due()
        if now >= due["cancels"] or nudged:
            self._check_cancels()
            due["cancels"] = now + CANCEL_CHECK
        if now >= due["heartbeat"]:
            self._heartbeat()
            due["heartbeat"] = now + settings.NODE_HEARTBEAT_SECONDS
        if now >= due["stale"]:
            self.fail_jobs_of_silent_nodes()
            due["stale"] = now + STALE_NODE_CHECK
        if nudged:
            due["claim"] = now
        if self.stopping_since is not None:
            if not self.running:
                return False
            if not self.aborting and now - self.stopping_since > self.drain_timeout:
                self._abort("drain timeout reached")
        elif now >= due["claim"]:
            claimed = self._fill(pool)
            if self.once and not claimed and not self.running:
                return False
            due["claim"] = now + (0 if claimed else self.poll)
        # Tick fast only while there are logs to flush; idle, sleep until the next
        # poll is due (a nudge from Redis wakes us sooner).
        idle = max(0.0, min(IDLE_TICK, due["claim"] - time.monotonic()))
        self.nudge.wait(TICK if self.running else idle)
        return True

    def _fill(self, pool):
        claimed = False
        while len(self.running) < self.concurrency:
            job = self.claim()
            if job is None:
                break
            claimed = True
            running = RunningJob(job=job, sink=LogSink(job.id))
            self.running[job.id] = running
            running.future = pool.submit(self._execute_in_thread, running)
        return claimed

    def _reap_finished(self):
        for job_id, running in list(self.running.items()):
            if running.future.done():
                del self.running[job_id]
                if running.future.exception():  # _execute catches everything; belt and braces
                    log.error("job %s thread died: %r", job_id, running.future.exception())

    # --- claiming ----------------------------------------------------------

    def claim(self):
        return retry_locked(self._claim)

    def _claim(self):
        """Claim the oldest queued job whose server has no running/cancelling job.

        On SQLite the IMMEDIATE transaction serialises claimers outright. On
        PostgreSQL each candidate's server row is locked with SKIP LOCKED, so two
        workers never claim for the same server at once and never wait on each
        other; the final `queued -> running` update is conditional, so a cancel
        that got there first wins.
        """
        with transaction.atomic():
            busy = Job.objects.active().values("server_id")
            mine = (
                {"server__node__name": self.node_name} if self.node_name else {"server__node__isnull": True}
            )
            candidates = (
                Job.objects.queued()
                .filter(**mine)
                .exclude(server_id__in=busy)
                .order_by("id")
                .values_list("id", "server_id")
            )
            seen = set()
            for job_id, server_id in candidates[:CLAIM_CANDIDATES]:
                if server_id in seen:
                    continue  # only a server's oldest queued job may run next (FIFO)
                seen.add(server_id)
                if not Server.objects.select_for_update(skip_locked=True).filter(pk=server_id).exists():
                    continue  # another worker is claiming for this server right now
                if Job.objects.active().filter(server_id=server_id).exists():
                    continue
                now = timezone.now()
                won = Job.objects.filter(pk=job_id, state=JobState.QUEUED).update(
                    state=JobState.RUNNING, started_at=now, updated_at=now, claimed_by=self.identity
                )
                if won:
                    log.info("claimed job %s", job_id)
                    return Job.objects.select_related("server", "requested_by").get(pk=job_id)
        return None

    # --- running one job -----------------------------------------------------

    def _execute_in_thread(self, running):
        try:
            self._execute(running)
        finally:
            connection.close()  # each pool thread has its own connection

    def _execute(self, running):
        job, sink, token = running.job, running.sink, running.token
        started = time.monotonic()
        # hostctl follows this with a "$ <command>" line for each command it runs.
        sink(
            LogStream.SYSTEM,
            f"Worker {self.identity} runs {job.kind} of {job.server.name} (server #{job.server_id}).",
        )
        try:
            code = int(l4d2_facade.run(job.kind, job.server, sink, token))
        except HostError as exc:
            sink(LogStream.STDERR, str(exc))
            code = 1
        except Exception as exc:
            log.exception("job %s raised", job.id)
            sink(LogStream.STDERR, f"Internal error: {type(exc).__name__}: {exc}")
            code = 1
        elapsed = time.monotonic() - started
        sink(LogStream.SYSTEM, f"Finished with exit code {code} after {elapsed:.1f} s.")
        self._refresh_actual_state(job, sink)
        sink.flush()
        state = self._finish(job, sink, code, cancelled=token.cancelled and code != 0)
        log.info("job %s %s (exit %s, %.1fs)", job.id, state, code, elapsed)

    def _refresh_actual_state(self, job, sink):
        try:
            status = l4d2_facade.refresh_actual_state(job.server)
            sink(LogStream.SYSTEM, f"Server is now {status.state}.")
        except Exception as exc:
            log.warning("status of server %s failed: %s", job.server_id, exc)
            sink(LogStream.SYSTEM, f"Could not refresh the server's state: {exc}")

    def _finish(self, job, sink, code, cancelled):
        now = timezone.now()
        outcome = JobState.SUCCEEDED if code == 0 else JobState.FAILED
        fields = {"exit_code": code, "finished_at": now, "updated_at": now}
        # running -> outcome only if nobody asked to cancel meanwhile (one winner).
        if retry_locked(
            lambda: Job.objects.filter(pk=job.id, state=JobState.RUNNING).update(state=outcome, **fields)
        ):
            notify_job(job.id)
            return outcome
        if cancelled:
            final = JobState.CANCELLED
        else:
            final = outcome
            sink(
                LogStream.SYSTEM,
                "A cancel was requested, but the command had already ended: the job keeps its outcome.",
            )
            sink.flush()
        retry_locked(
            lambda: Job.objects.filter(pk=job.id, state=JobState.CANCELLING).update(state=final, **fields)
        )
        notify_job(job.id)
        return final

    # --- cancellation and signals --------------------------------------------

    def _check_cancels(self):
        waiting = [jid for jid, r in self.running.items() if not r.cancel_seen]
        if not waiting:
            return
        requested = Job.objects.filter(pk__in=waiting, state=JobState.CANCELLING).values_list(
            "id", "cancel_requested_by__username", "cancel_requested_at"
        )
        for job_id, username, requested_at in requested:
            running = self.running[job_id]
            running.cancel_seen = True
            when = requested_at.strftime("%H:%M:%S.%f")[:-3] if requested_at else "?"
            running.sink(
                LogStream.SYSTEM,
                f"Cancel requested by {username or 'someone'} at {when} UTC: stopping the process tree.",
            )
            running.token.cancel()
            log.info("cancelling job %s", job_id)

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)

    def _on_signal(self, signum, frame):
        name = signal.Signals(signum).name
        if self.stopping_since is None:
            log.info(
                "%s: no new jobs; waiting up to %ss for %d running job(s)",
                name,
                self.drain_timeout,
                len(self.running),
            )
            self.stopping_since = time.monotonic()
        else:
            self._abort(f"second {name}")

    def _abort(self, reason):
        self.aborting = True
        log.warning("%s: cancelling %d running job(s)", reason, len(self.running))
        for running in self.running.values():
            running.sink(LogStream.SYSTEM, f"Worker shutting down ({reason}): stopping the process tree.")
            running.token.cancel()

    # --- nodes ---------------------------------------------------------------------

    def _heartbeat(self):
        """Say this node is alive (only with --node: the panel's own host needs no heartbeat)."""
        if not self.node_name:
            return
        now = timezone.now()
        if self.node is None:
            self.node, _ = retry_locked(lambda: Node.objects.get_or_create(name=self.node_name))
        retry_locked(lambda: Node.objects.filter(pk=self.node.pk).update(last_heartbeat=now))

    def fail_jobs_of_silent_nodes(self):
        """Finish jobs whose node stopped heartbeating long ago: its worker is gone."""
        cutoff = timezone.now() - timedelta(seconds=settings.NODE_JOB_TIMEOUT_SECONDS)
        stale = (
            Job.objects.active().filter(server__node__isnull=False).exclude(server__node__name=self.node_name)
        )
        stale = stale.filter(
            Q(server__node__last_heartbeat__lt=cutoff) | Q(server__node__last_heartbeat=None)
        )
        for job in stale.select_related("server__node"):
            node = job.server.node
            seen = node.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S UTC") if node.last_heartbeat else "never"
            self._finish_abandoned(
                job,
                f"Node {node.name} stopped heartbeating (last seen {seen}); "
                f"marked {{state}} by worker {self.identity}.",
            )

    def _finish_abandoned(self, job, message):
        """Finish a job whose worker is gone: failed, or cancelled if a cancel was requested."""
        final = JobState.CANCELLED if job.cancel_requested_at else JobState.FAILED
        now = timezone.now()

        def finish():
            with transaction.atomic():
                won = Job.objects.filter(pk=job.id, state=job.state).update(
                    state=final, finished_at=now, updated_at=now
                )
                if won:  # the winner alone writes the line, so seq stays gap-free
                    job.append_log(LogStream.SYSTEM, message.format(state=final))
                return won

        if retry_locked(finish):
            log.warning("job %s abandoned: marked %s", job.id, final)
            notify_job(job.id)
            return True
        return False

    # --- restart safety --------------------------------------------------------

    def recover_orphans(self):
        """Finish jobs left running/cancelling by a worker that died (kill -9, power loss)."""
        for job in Job.objects.active().exclude(claimed_by=self.identity).select_related("server"):
            if identity_alive(job.claimed_by) is not False:
                continue  # alive, or on another host: not ours to judge
            try:
                # Its steamcmd may still be downloading: stop it before anyone else
                # runs a job on this server (the game server itself is spared).
                strays = l4d2_facade.kill_strays(job.server)
            except Exception as exc:
                log.warning("could not clean up after job %s: %s", job.id, exc)
                strays = 0
            cleanup = f" Killed {strays} process(es) it left running." if strays else ""
            message = (
                f"The worker running this job ({job.claimed_by or 'unknown'}) stopped before it "
                f"finished; marked {{state}} by worker {self.identity}.{cleanup}"
            )
            if self._finish_abandoned(job, message):
                try:
                    l4d2_facade.refresh_actual_state(job.server)
                except Exception as exc:
                    log.warning("status of server %s failed: %s", job.server_id, exc)
