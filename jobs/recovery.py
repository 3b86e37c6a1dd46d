"""Jobs whose worker is gone: who the worker is, heartbeats, and finishing what it left.

Every worker heartbeats a `WorkerProcess` row (and its node's row, for node
workers). A running job whose worker has been silent for
L4D2_NODE_JOB_TIMEOUT_SECONDS is finished by whichever worker notices: failed,
or cancelled if a cancel was asked for, with a line saying why. At start a worker
also finishes at once the jobs of dead predecessors on its own host (it can tell
from the pid), and kills the processes they left (by their mark).
"""

import functools
import hashlib
import logging
import socket
from datetime import timedelta

import psutil
from django.db import connection, transaction
from django.utils import timezone

from l4d2site.db import retry_locked
from servers import l4d2_facade
from servers.models import DesiredState, Node

from .models import Job, JobKind, JobTrigger, LogStream, WorkerProcess
from .models.worker import timeout_cutoff

log = logging.getLogger(__name__)

FORGET_AFTER = timedelta(days=1)  # rows of workers silent this long, with no job left, are deleted


def process_identity(pid=None):
    """host:pid:start-time; the start time tells a live worker from a reused pid."""
    proc = psutil.Process(pid)
    return f"{socket.gethostname()}:{proc.pid}:{proc.create_time():.2f}"


def identity_alive(identity):
    """True/False for a worker on this host; None for another host (cannot tell from here)."""
    host, _, rest = identity.partition(":")
    pid, _, started = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return None
    try:
        return f"{psutil.Process(int(pid)).create_time():.2f}" == started
    except psutil.Error:
        return False


def job_mark(job_id):
    """The mark (hostctl CancelToken.mark) every process of a job carries, to find them later.

    It names the database too: two panels on one host (or two test runs) both have a
    job #12, and one's recovery must never kill the other's processes.
    """
    return f"l4d2-{_panel_id()}-job-{job_id}"


@functools.cache
def _panel_id():
    db = connection.settings_dict
    where = f"{db['ENGINE']}:{db.get('HOST')}:{db.get('PORT')}:{db['NAME']}"
    return hashlib.sha256(where.encode()).hexdigest()[:10]


class Recovery:
    def __init__(self, identity, node_name=None):
        self.identity = identity
        self.node_name = node_name
        self.node = None

    @retry_locked
    def heartbeat(self):
        """Say this worker (and its node) is alive."""
        WorkerProcess.heartbeat(self.identity, self.node_name)
        if self.node_name:
            if self.node is None:
                self.node, _ = Node.objects.get_or_create(name=self.node_name)
            Node.objects.filter(pk=self.node.pk).update(last_heartbeat=timezone.now())

    def stopped(self):
        """A clean stop: nothing of ours is left running, so the row can go."""
        WorkerProcess.objects.filter(identity=self.identity).delete()

    def recover_silent(self):
        """Finish jobs whose worker stopped heartbeating long ago, wherever it ran."""
        alive = WorkerProcess.objects.alive().values("identity")
        silent = Job.objects.active().exclude(claimed_by__in=alive).exclude(claimed_by=self.identity)
        # A job claimed by a worker that never heartbeated (older panel) counts from its last change.
        silent = silent.filter(updated_at__lt=timeout_cutoff())
        workers = {
            w.identity: w for w in WorkerProcess.objects.filter(identity__in=silent.values("claimed_by"))
        }
        for job in silent.select_related("server__node"):
            worker = workers.get(job.claimed_by)
            seen = worker.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S UTC") if worker else "never"
            where = f"node {job.server.node.name}" if job.server.node else "the panel host"
            if job.abandon(
                f"The worker running this job on {where} stopped heartbeating (last seen {seen}); "
                "marked {state}."
            ):
                restore_desired(job, check=False)  # its host is not this one: its worker will see
        forget = timezone.now() - FORGET_AFTER
        WorkerProcess.objects.filter(last_heartbeat__lt=forget).exclude(
            identity__in=Job.objects.active().values("claimed_by")
        ).delete()

    def reconcile(self, running_ids):
        """Finish the jobs the database says this worker runs but it does not.

        A claim whose answer the database lost in an outage, or a job thread that ended
        without its final state: nobody will ever finish them otherwise (this worker is
        alive and heartbeating, so recovery never touches them), and their server's queue
        waits behind them for ever. Called from the worker's main thread, which alone
        claims jobs and adds them to `running_ids`, so a job just claimed is never here.
        """
        strays = Job.objects.active().filter(claimed_by=self.identity).exclude(pk__in=list(running_ids))
        for job in strays.select_related("server"):
            if job.abandon(
                "This job's worker is alive but was not running it: the panel's database was "
                "unavailable when it was claimed or when it ended. Marked {state}."
            ):
                restore_desired(job, check=True)

    def recover_orphans(self):
        """At start: finish at once the jobs of dead workers on this host (kill -9, power loss)."""
        for job in Job.objects.active().exclude(claimed_by=self.identity).select_related("server"):
            if identity_alive(job.claimed_by) is not False:
                continue  # alive, or on another host: its heartbeat will tell
            try:
                # Its steamcmd may still be downloading: stop it before anyone else
                # runs a job on this server (the game server itself is spared).
                strays = l4d2_facade.kill_strays(job.server, job_mark(job.id))
            except Exception as exc:
                log.warning("could not clean up after job %s: %s", job.id, exc)
                strays = 0
            cleanup = f" Killed {strays} process(es) it left running." if strays else ""
            if job.abandon(
                f"The worker running this job stopped before it finished; marked {{state}}.{cleanup}"
            ):
                try:
                    l4d2_facade.refresh_actual_state(job.server)
                except Exception as exc:
                    log.warning("status of server %s failed: %s", job.server_id, exc)
                restore_desired(job, check=True)


# Kinds that stop a server on the way and start it again at their end.
RESTARTING_KINDS = (JobKind.START, JobKind.RESTART, JobKind.UPDATE)


def restore_desired(job, *, check):
    """After a job was finished for a worker that did not: a server its owner wants running,
    left down half-way (an update stopped it, then its worker died), is started again.

    `check`: the server is on this host, so a server already running is left alone.
    Otherwise the start job finds it running and says so. Returns the start job, or None.
    """
    server = job.server
    if job.kind not in RESTARTING_KINDS or server.desired_state != DesiredState.RUNNING:
        return None
    if check and l4d2_facade.check_process(server).state == l4d2_facade.ALIVE:
        return None
    # One transaction: no worker can claim the start before its opening line is there.
    with transaction.atomic():
        reason = f"left down by job #{job.pk}"
        start = Job.enqueue(
            server, JobKind.START, None, trigger=JobTrigger.MONITOR, parent=job, detail={"reason": reason}
        )
        if not start.duplicate:
            start.append_log(
                LogStream.SYSTEM,
                f"The server should be running, but job #{job.pk} ended without starting it again: "
                "starting it.",
            )
    log.warning("server %s left down by job %s: queued start job %s", server.pk, job.pk, start.pk)
    return start
