"""Worker processes, so a job is never stuck because its worker vanished."""

import socket
from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone


class WorkerProcessQuerySet(models.QuerySet):
    def alive(self):
        """Workers that heartbeated within L4D2_NODE_JOB_TIMEOUT_SECONDS."""
        return self.filter(last_heartbeat__gte=timeout_cutoff())


def timeout_cutoff():
    return timezone.now() - timedelta(seconds=settings.NODE_JOB_TIMEOUT_SECONDS)


class WorkerProcess(models.Model):
    """One `runworker` process, known by the identity it writes into `Job.claimed_by`.

    Liveness is its heartbeat, never its host name: a worker whose container came
    back under another name is simply silent, and its jobs are recovered.
    """

    identity = models.CharField(max_length=200, unique=True, help_text="host:pid:start-time")
    host = models.CharField(max_length=255)
    node_name = models.CharField(max_length=64, blank=True, default="")
    started_at = models.DateTimeField(default=timezone.now)
    last_heartbeat = models.DateTimeField(default=timezone.now, db_index=True)

    objects = WorkerProcessQuerySet.as_manager()

    class Meta:
        ordering = ["-last_heartbeat"]
        verbose_name_plural = "worker processes"  # not Django's "worker processs"

    def __str__(self):
        return self.identity

    @classmethod
    def heartbeat(cls, identity, node_name):
        now = timezone.now()
        if not cls.objects.filter(identity=identity).update(last_heartbeat=now):
            cls.objects.create(
                identity=identity, host=socket.gethostname(), node_name=node_name or "", last_heartbeat=now
            )

    @property
    def is_alive(self):
        return self.last_heartbeat >= timeout_cutoff()
