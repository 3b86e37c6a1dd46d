"""Deleting old finished jobs and their log lines (DESIGN.md §10), and old activity events.

`manage.py prunejobs` runs `prune_jobs` once; with L4D2_PRUNE_JOBS_DAYS set, every
worker runs it daily (`PruneLoop`, listed in settings.WORKER_LOOPS). The same loop
deletes activity events older than L4D2_ACTIVITY_KEEP_DAYS daily (activity/prune.py). Only finished
jobs go (never queued, running or cancelling ones), and each server keeps its last
N jobs whatever their age. Deletes go in small batches, lines first, each batch its
own short transaction: on SQLite a delete holds the one write lock, and a worker
writing a live log must get it between batches, so viewers never wait long.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from activity.prune import prune as prune_activity
from l4d2site.db import retry_locked
from l4d2site.loops import WorkerLoop
from servers.models import Server

from .models import FINISHED_STATES, Job, JobLog

log = logging.getLogger(__name__)

JOB_BATCH = 200  # jobs per batch
LINE_BATCH = 2000  # log rows per DELETE
PAUSE = 0.01  # seconds between batches: room for the live writers


@dataclass
class Pruned:
    jobs: int = 0
    lines: int = 0


def old_jobs(server_id, older_than_days, keep_last=0, now=None):
    """The server's finished jobs older than the cutoff, except its `keep_last` newest jobs (of any state)."""
    cutoff = (now or timezone.now()) - timedelta(days=older_than_days)
    jobs = Job.objects.filter(server_id=server_id, state__in=FINISHED_STATES).filter(
        Q(finished_at__lt=cutoff) | Q(finished_at__isnull=True, created_at__lt=cutoff)
    )
    if keep_last:
        # The id of the server's keep_last-th newest job: one seek on the (server, -id) index.
        newest = Job.objects.filter(server_id=server_id).order_by("-id").values_list("id", flat=True)
        floor = list(newest[keep_last - 1 : keep_last])
        if not floor:
            return Job.objects.none()  # fewer jobs than it keeps
        jobs = jobs.filter(id__lt=floor[0])
    return jobs


def prune_jobs(older_than_days, keep_last=0, *, dry_run=False, now=None, pause=PAUSE):
    """Delete (or with dry_run, count) what prunejobs deletes; returns a `Pruned` with the counts."""
    pruned = Pruned()
    for server_id in Server.objects.order_by("id").values_list("id", flat=True):
        jobs = old_jobs(server_id, older_than_days, keep_last, now=now)
        if dry_run:
            pruned.jobs += jobs.count()
            pruned.lines += JobLog.objects.filter(job__in=jobs.values("id")).count()
            continue
        while ids := list(jobs.order_by("id").values_list("id", flat=True)[:JOB_BATCH]):
            pruned.lines += _delete_lines(ids, pause)
            pruned.jobs += _delete(Job.objects.filter(pk__in=ids))
            time.sleep(pause)
    return pruned


def _delete_lines(job_ids, pause):
    deleted = 0
    rows = JobLog.objects.filter(job_id__in=job_ids).values_list("pk", flat=True)
    while pks := list(rows[:LINE_BATCH]):
        deleted += _delete(JobLog.objects.filter(pk__in=pks))
        time.sleep(pause)
    return deleted


@retry_locked
def _delete(queryset):
    """One batch, one transaction; the count of rows of its own model it deleted."""
    return queryset.delete()[1].get(queryset.model._meta.label, 0)


class PruneLoop(WorkerLoop):
    """Once a day (first at worker start): prune_jobs when L4D2_PRUNE_JOBS_DAYS is set, and
    the activity events older than L4D2_ACTIVITY_KEEP_DAYS.

    Every worker runs it: deleting what another worker already deleted costs a query, not harm.
    """

    interval = 3600.0  # looks hourly whether a day has passed
    every = 24 * 3600.0

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.last_runs = {}

    def run_once(self):
        days = settings.L4D2_PRUNE_JOBS_DAYS
        # Each on its own day: turning job pruning on later starts it at once.
        if days is not None and self._due("jobs"):
            pruned = prune_jobs(days, settings.L4D2_PRUNE_KEEP_LAST)
            log.info("pruned %d jobs and %d log lines older than %s days", pruned.jobs, pruned.lines, days)
        if self._due("activity"):
            keep = settings.L4D2_ACTIVITY_KEEP_DAYS
            log.info("pruned %d activity events older than %s days", prune_activity(keep), keep)

    def _due(self, what):
        last = self.last_runs.get(what)
        if last is not None and time.monotonic() - last < self.every:
            return False
        self.last_runs[what] = time.monotonic()
        return True
