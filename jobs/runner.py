"""Running one claimed job: its output, its hostctl call, its opening and closing lines, its end.

The worker (jobs/worker.py) claims a job and hands it to `execute` in a pool thread;
everything here happens in that thread, except `RunningJob.cancel`, which the
worker's main thread calls when it sees the job's cancel request.
"""

import logging
import time
from dataclasses import dataclass, field

from django.db import DatabaseError, connection

from hostctl.errors import HostError
from hostctl.lines import hide_home
from hostctl.process import PROGRESS, CancelToken
from l4d2site.db import forget_connection, until_answered
from servers import l4d2_facade
from servers.models import ActualState
from streams.sink import LineSink

from .models import Job, JobLog, LogStream
from .notify import notify_job
from .outcome import closing_line
from .recovery import job_mark

log = logging.getLogger(__name__)

PROGRESS_EVERY = 0.25  # seconds between progress writes; the bar moves smoothly enough


def job_sink(job_id):
    # A job may already have lines (a crash restart opens with the crash report): go on after them.
    last = JobLog.objects.last_seq(job_id)
    return LineSink(JobLog, job_id, last_seq=last, on_written=lambda seq: notify_job(job_id, seq))


class JobOutput:
    """Where hostctl sends a job's output: lines into its log, progress onto the job row.

    The worker's home directory is shown as "~" (hostctl.lines.hide_home). hostctl's
    callbacks never wait on the database: lines go to the sink's writer thread, and the
    progress is only noted here; the worker's main thread puts it on the job row
    (`save_progress`, every tick), so a database outage never holds up steamcmd's output.
    """

    def __init__(self, job_id):
        self.job_id = job_id
        self.lines = job_sink(job_id)
        self.progress = None
        self.saved_progress = None
        self.saved_at = 0.0

    def __call__(self, stream, text):
        if stream == PROGRESS:
            self.progress = int(text)
        else:
            self.lines(stream, hide_home(text))

    def save_progress(self):
        """The progress onto the job row if it moved, at most every PROGRESS_EVERY seconds.

        From the worker's main thread. Never raises: while the database is away the bar
        waits, and a later tick tries again.
        """
        progress = self.progress
        if progress == self.saved_progress or time.monotonic() - self.saved_at < PROGRESS_EVERY:
            return
        try:
            self._write_progress(progress)
        except DatabaseError as exc:
            log.warning("job %s: progress not saved, trying again later: %s", self.job_id, exc)
            forget_connection()
            self.saved_at = time.monotonic()  # the next try waits its turn like a save

    def _write_progress(self, progress):
        Job.objects.filter(pk=self.job_id).update(progress=progress)
        self.saved_progress, self.saved_at = progress, time.monotonic()
        notify_job(self.job_id)

    def database_back(self, seconds):
        """The job's bookkeeping waited for the database: say so in words, never its error."""
        self(LogStream.SYSTEM, f"The panel's database was unavailable for {seconds:.0f} s; the job went on.")

    def say(self, text):
        """A system line, stored before this returns."""
        self(LogStream.SYSTEM, text)
        self.flush()

    def flush(self):
        """Every line and the last progress stored, however long the database takes to answer."""
        progress = self.progress
        if progress != self.saved_progress:
            until_answered(lambda: self._write_progress(progress), noticed=self.database_back)
        self.lines.flush()


def state_words(state):
    """An actual state as a person says it: "not_installed" -> "not installed"."""
    return ActualState(state).label.lower() if state in ActualState.values else str(state)


@dataclass
class RunningJob:
    job: Job
    output: JobOutput = None
    token: CancelToken = None
    cancel_seen: bool = False
    # Set when someone asks to end the players' warning now (POST /jobs/<id>/now).
    hurry: CancelToken = field(default_factory=CancelToken)
    hurry_seen: bool = False
    future: object = field(default=None, repr=False)

    def __post_init__(self):
        self.output = self.output or JobOutput(self.job.id)
        # Every process the job starts carries its mark: cancel (and recovery after a
        # crash of this worker) find them however they detach.
        self.token = self.token or CancelToken(mark=job_mark(self.job.id))

    def cancel(self, why):
        self.output(LogStream.SYSTEM, why)
        self.token.cancel()


def execute(running):
    """Run the job to its end in this (pool) thread: hostctl, lines, actual state, final state."""
    try:
        _execute(running)
    finally:
        connection.close()  # each pool thread has its own connection


def _execute(running):
    job, output, token = running.job, running.output, running.token
    started = time.monotonic()
    # hostctl follows this with a "$ <command>" line for each command it runs.
    # Host names and pids are for staff (the job page shows them the worker); the log is for everyone.
    output(LogStream.SYSTEM, f"Running {job.get_kind_display().lower()} of {job.server.name}.")
    try:
        code = int(
            l4d2_facade.run(job.kind, job.server, output, token, hurry=running.hurry, params=job.params)
        )
    except HostError as exc:
        output(LogStream.STDERR, str(exc))
        code = 1
    except Exception as exc:
        log.exception("job %s raised", job.id)
        # The exception may name host paths or the database's address: details go to the
        # worker's log, for staff.
        output(LogStream.STDERR, f"Internal error ({type(exc).__name__}); details are in the worker's log.")
        code = 1
    elapsed = time.monotonic() - started
    output(LogStream.SYSTEM, closing_line(code, elapsed))
    output(LogStream.SYSTEM, refreshed_state(job, output))
    output.flush()
    state = job.finish(code, cancelled=token.cancelled and code != 0, say=output.say)
    log.info("job %s %s (exit %s, %.1fs)", job.id, state, code, elapsed)


def refreshed_state(job, output):
    """The server's actual state after the job, recorded (waiting out a database outage), in words."""
    try:
        refresh = lambda: l4d2_facade.refresh_actual_state(job.server)  # noqa: E731
        status = until_answered(refresh, noticed=output.database_back)
    except Exception:
        log.exception("status of server %s failed", job.server_id)
        return "Could not refresh the server's state; details are in the worker's log."
    return f"Server is now {state_words(status.state)}."
