"""manage.py prunejobs and the worker's daily prune (DESIGN.md §10)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from jobs import prune
from jobs.models import Job, JobKind, JobLog, JobState
from jobs.prune import PruneLoop, prune_jobs

pytestmark = pytest.mark.django_db


def old_job(server, owner, state=JobState.SUCCEEDED, days=40, lines=3):
    job = Job.objects.create(server=server, kind=JobKind.UPDATE, requested_by=owner)
    when = timezone.now() - timedelta(days=days)
    finished = when if state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED) else None
    Job.objects.filter(pk=job.pk).update(state=state, created_at=when, finished_at=finished)
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream="stdout", line=f"l{i}") for i in range(1, lines + 1)]
    )
    return job


def run(*args):
    out = StringIO()
    call_command("prunejobs", *args, stdout=out)
    return out.getvalue()


def test_prunejobs_deletes_old_finished_jobs_and_their_lines(server, owner):
    gone = [
        old_job(server, owner, state) for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)
    ]
    recent = old_job(server, owner, days=5)
    assert run("--older-than", "30") == "Deleted 3 jobs and 9 log lines (finished more than 30 days ago).\n"
    assert not Job.objects.filter(pk__in=[j.pk for j in gone]).exists()
    assert not JobLog.objects.filter(job_id__in=[j.pk for j in gone]).exists()
    assert list(Job.objects.values_list("id", flat=True)) == [recent.id]
    assert JobLog.objects.filter(job=recent).count() == 3


def test_prunejobs_never_touches_queued_running_or_cancelling_jobs(server, owner):
    alive = [
        old_job(server, owner, state, days=400)
        for state in (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)
    ]
    run("--older-than", "1")
    assert Job.objects.filter(pk__in=[j.pk for j in alive]).count() == 3
    assert JobLog.objects.count() == 9


def test_prunejobs_keeps_each_servers_last_jobs(server, other_server, owner, other_owner):
    mine = [old_job(server, owner, days=100 - i) for i in range(5)]
    theirs = [old_job(other_server, other_owner, days=100 - i) for i in range(2)]
    assert run("--older-than", "30", "--keep-last", "3") == (
        "Deleted 2 jobs and 6 log lines (finished more than 30 days ago, keeping each server's last 3).\n"
    )
    assert set(Job.objects.values_list("id", flat=True)) == {j.id for j in mine[2:] + theirs}


def test_prunejobs_dry_run_counts_and_deletes_nothing(server, owner):
    for _ in range(4):
        old_job(server, owner)
    assert run("--older-than", "30", "--dry-run") == (
        "Would delete 4 jobs and 12 log lines (finished more than 30 days ago).\n"
    )
    assert Job.objects.count() == 4 and JobLog.objects.count() == 12


def test_prunejobs_deletes_in_batches(server, owner, monkeypatch):
    monkeypatch.setattr(prune, "JOB_BATCH", 2)
    monkeypatch.setattr(prune, "LINE_BATCH", 4)
    deleted = []
    original = prune._delete.__wrapped__

    def spy(queryset):
        count = original(queryset)
        deleted.append((queryset.model.__name__, count))
        return count

    monkeypatch.setattr(prune, "_delete", spy)
    for _ in range(5):
        old_job(server, owner)
    pruned = prune_jobs(30, pause=0)
    assert (pruned.jobs, pruned.lines) == (5, 15)
    assert max(count for model, count in deleted if model == "JobLog") <= 4
    assert max(count for model, count in deleted if model == "Job") <= 2
    assert [model for model, _ in deleted].index("JobLog") == 0  # lines go before their jobs


def test_a_re_run_of_a_pruned_job_keeps_its_own_history(server, owner):
    parent = old_job(server, owner)
    child = Job.objects.create(server=server, kind=JobKind.UPDATE, requested_by=owner)
    Job.objects.filter(pk=child.pk).update(parent=parent)
    run("--older-than", "30")
    child.refresh_from_db()
    assert child.parent_id is None


@pytest.mark.parametrize(
    "args", [[], ["--older-than", "0"], ["--older-than", "x"], ["--older-than", "3", "--keep-last", "-1"]]
)
def test_prunejobs_refuses_bad_arguments(args):
    with pytest.raises(CommandError):
        call_command("prunejobs", *args)


def test_the_daily_prune_is_off_unless_configured(settings, server, owner):
    old_job(server, owner)
    loop = PruneLoop(identity="test", node_name=None)
    settings.L4D2_PRUNE_JOBS_DAYS = None
    loop.run_once()
    assert Job.objects.count() == 1
    settings.L4D2_PRUNE_JOBS_DAYS = 30
    settings.L4D2_PRUNE_KEEP_LAST = 0
    loop.run_once()
    assert Job.objects.count() == 0
    old_job(server, owner)
    loop.run_once()  # ran less than a day ago: not again yet
    assert Job.objects.count() == 1


def test_the_worker_runs_the_prune_loop(settings):
    assert "jobs.prune.PruneLoop" in settings.WORKER_LOOPS
