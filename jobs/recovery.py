"""Jobs whose worker is gone: who the worker is, heartbeats, and finishing what it left.

A worker is known by "host:pid:start-time" (`claimed_by` on its jobs). At start it
finishes the jobs of dead predecessors on this host; every few seconds it
heartbeats its node and finishes the jobs of nodes that went silent.
"""

import logging
import socket
from datetime import timedelta

import psutil
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from l4d2site.db import retry_locked
from servers import l4d2_facade
from servers.models import Node

from .models import Job

log = logging.getLogger(__name__)


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


class Recovery:
    def __init__(self, identity, node_name=None):
        self.identity = identity
        self.node_name = node_name
        self.node = None

    def heartbeat(self):
        """Say this node is alive (only with --node: the panel's own host needs no heartbeat)."""
        if not self.node_name:
            return
        if self.node is None:
            self.node, _ = retry_locked(Node.objects.get_or_create)(name=self.node_name)
        retry_locked(Node.objects.filter(pk=self.node.pk).update)(last_heartbeat=timezone.now())

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
            job.abandon(
                f"Node {node.name} stopped heartbeating (last seen {seen}); "
                f"marked {{state}} by worker {self.identity}."
            )

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
            if job.abandon(message):
                try:
                    l4d2_facade.refresh_actual_state(job.server)
                except Exception as exc:
                    log.warning("status of server %s failed: %s", job.server_id, exc)
