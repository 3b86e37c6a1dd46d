"""The job worker: claims queued jobs, runs them through hostctl, records every line.

One `Worker` per host process. The main thread claims jobs and watches for cancel
requests; each claimed job runs in a pool thread (`jobs.runner`) with its own line
sink and `CancelToken`. Process handles never leave this process: a cancel request
lives in the database (state `cancelling`) and the main thread turns it into the
job's token firing. State transitions are the model's (`jobs.models`); finishing what
a dead worker left is `jobs.recovery`'s; the worker's other duties (supervisor,
console, scheduler, webhooks) are loops it starts (settings.WORKER_LOOPS).
"""

import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Q
from django.utils.module_loading import import_string

from hostctl import proctree
from l4d2site.db import until_answered
from streams import layer

from .models import Job, JobState
from .notify import WORKER_GROUP
from .recovery import Recovery, process_identity
from .runner import RunningJob, execute

log = logging.getLogger(__name__)

TICK = 0.1  # main loop period: how often cancel requests are looked for while jobs run
SILENT_CHECK = 10.0  # seconds between looks for jobs whose worker went silent
REAP_EVERY = 1.0  # seconds between reaping orphans we adopted as a subreaper


class Worker:
    def __init__(self, concurrency=2, poll=1.0, once=False, drain_timeout=60.0, node=None, subreaper=False):
        self.node_name = node
        self.concurrency = concurrency
        self.poll = poll
        self.once = once
        self.drain_timeout = drain_timeout
        self.identity = process_identity()
        self.recovery = Recovery(self.identity, node)
        self.running = {}
        self.last_owner = 0  # whose job this worker claimed last: the queue's round-robin turn
        self.stopping_since = None  # first signal: stop claiming
        self.aborting = False  # second signal (or drain timeout): cancel running jobs
        self.nudge = threading.Event()  # set by a nudge (local datagram or Redis): look now
        # A subreaper adopts what its jobs' daemons leave behind, so cancel can find them;
        # then it must reap them too. Only for a real worker process (not tests in-process).
        self.subreaper = subreaper and proctree.become_subreaper()

    # --- main loop ---------------------------------------------------------

    def run(self):
        self._install_signal_handlers()
        log.info("worker %s started (concurrency %s, poll %ss)", self.identity, self.concurrency, self.poll)
        # A worker started (by systemd, say) while the database is away waits for it.
        until_answered(self.recovery.heartbeat)
        until_answered(self.recovery.recover_orphans)
        # A job queued or a cancel asked for wakes the loop at once; polling goes on regardless.
        nudges = layer.Subscription(WORKER_GROUP, lambda seq: self.nudge.set())
        loops = self._start_loops()
        # When each periodic duty is next due (time.monotonic()).
        self.due = dict.fromkeys(("claim", "heartbeat", "silent", "reap"), 0.0)
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
        nudges.close()
        for loop in loops:
            loop.stop()
        try:
            self.recovery.stopped()
        except DatabaseError as exc:  # its row will be forgotten a day after its last heartbeat
            log.warning("could not say this worker stopped: %s", exc)
        connection.close()
        log.info("worker %s stopped", self.identity)

    def _start_loops(self):
        """The worker's other duties (settings.WORKER_LOOPS); not for --once, which only drains the queue."""
        if self.once:
            return []
        loops = [
            import_string(path)(identity=self.identity, node_name=self.node_name)
            for path in settings.WORKER_LOOPS
        ]
        for loop in loops:
            loop.start()
        return loops

    def _tick(self, pool):
        """One turn of the main loop; False once the worker should exit."""
        close_old_connections()
        now = time.monotonic()
        due = self.due
        nudged = self.nudge.is_set()
        self.nudge.clear()
        self._reap_finished()
        for running in self.running.values():
            running.output.save_progress()
        self._check_requests()
        if now >= due["heartbeat"]:
            self.recovery.heartbeat()
            self.recovery.reconcile(self.running)
            due["heartbeat"] = now + settings.NODE_HEARTBEAT_SECONDS
        if now >= due["silent"]:
            self.recovery.recover_silent()
            due["silent"] = now + SILENT_CHECK
        if self.subreaper and now >= due["reap"]:
            proctree.reap_adopted()
            due["reap"] = now + REAP_EVERY
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
        # Sleep until the next duty is due; a nudge wakes us sooner.
        self.nudge.wait(max(0.0, min(TICK, due["claim"] - time.monotonic())))
        return True

    def _fill(self, pool):
        claimed = False
        while len(self.running) < self.concurrency:
            job = Job.objects.claim(
                node_name=self.node_name, worker=self.identity, after_owner=self.last_owner
            )
            if job is None:
                break
            self.last_owner = job.server.owner_id
            log.info("claimed job %s", job.id)
            claimed = True
            running = RunningJob(job)
            self.running[job.id] = running
            running.future = pool.submit(execute, running)
        return claimed

    def _reap_finished(self):
        for job_id, running in list(self.running.items()):
            if running.future.done():
                del self.running[job_id]
                if running.future.exception():  # _execute catches everything; belt and braces
                    log.error("job %s thread died: %r", job_id, running.future.exception())

    # --- cancellation and signals --------------------------------------------

    def _check_requests(self):
        """Cancels (state `cancelling`) and hurries (POST /jobs/<id>/now) asked for the jobs this
        worker runs, in one query per tick: the database carries them from the web process."""
        waiting = [jid for jid, r in self.running.items() if not (r.cancel_seen and r.hurry_seen)]
        if not waiting:
            return
        asked = Q(state=JobState.CANCELLING) | Q(hurry_requested_at__isnull=False)
        requested = Job.objects.filter(asked, pk__in=waiting).values_list(
            "id", "state", "hurry_requested_at", "cancel_requested_by__username", "cancel_requested_at"
        )
        for job_id, state, hurry_at, username, requested_at in requested:
            running = self.running[job_id]
            if hurry_at is not None and not running.hurry_seen:
                running.hurry_seen = True
                running.hurry.cancel()
                log.info("job %s: going on without the rest of the warning", job_id)
            if state == JobState.CANCELLING and not running.cancel_seen:
                running.cancel_seen = True
                when = requested_at.strftime("%H:%M:%S.%f")[:-3] if requested_at else "?"
                running.cancel(
                    f"Cancel requested by {username or 'someone'} at {when} UTC: stopping the process tree."
                )
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
            running.cancel(f"Worker shutting down ({reason}): stopping the process tree.")
