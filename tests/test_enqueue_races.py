"""Enqueueing under concurrency: the double-click guard, re-runs and the queue limit hold on
PostgreSQL (READ COMMITTED) as on SQLite, whatever arrives at the same moment."""

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from jobs.models import Job, JobKind, JobState, JobTrigger

pytestmark = pytest.mark.django_db(transaction=True)


def all_at_once(requests):
    """Run the callables together (each in a thread with its own database connection),
    released by one barrier so they really overlap; returns their results in order."""
    barrier = threading.Barrier(len(requests))

    def run(request):
        try:
            barrier.wait()
            return request()
        finally:
            connection.close()

    with ThreadPoolExecutor(len(requests)) as pool:
        return list(pool.map(run, requests))


def logged_in(user):
    client = Client()
    client.force_login(user)
    return client


def test_twenty_concurrent_install_clicks_from_one_session_queue_one_job(owner, server):
    client = logged_in(owner)
    answers = all_at_once([lambda: client.post(f"/servers/{server.id}/jobs", {"kind": "install"})] * 20)
    job = Job.objects.get()
    assert {answer.status_code for answer in answers} == {302}
    assert {answer["Location"] for answer in answers} == {f"/jobs/{job.id}"}


def test_sixty_concurrent_enqueues_over_twelve_servers_queue_twenty_and_answer_forty_429s(
    owner, make_server, settings
):
    settings.MAX_QUEUED_PER_OWNER = 20
    servers = [make_server() for _ in range(12)]
    clients = [logged_in(owner) for _ in range(6)]
    kinds = ["install", "update", "start", "stop", "restart"]
    posts = [
        (
            lambda c=clients[i % 6], s=servers[i % 12], k=kinds[i // 12]: c.post(
                f"/servers/{s.id}/jobs", {"kind": k}
            )
        )
        for i in range(60)
    ]
    answers = all_at_once(posts)
    assert Counter(answer.status_code for answer in answers) == {302: 20, 429: 40}
    assert Job.objects.queued().count() == 20


def test_twenty_concurrent_reruns_of_one_job_make_one_job(owner, server):
    failed = Job.objects.create(server=server, kind=JobKind.INSTALL, state=JobState.FAILED, exit_code=1)
    client = logged_in(owner)
    answers = all_at_once([lambda: client.post(f"/jobs/{failed.id}/retry")] * 20)
    rerun = Job.objects.get(parent=failed)
    assert rerun.trigger == JobTrigger.RETRY
    assert {answer["Location"] for answer in answers} == {f"/jobs/{rerun.id}"}


def test_a_schedules_job_counts_against_the_owners_queue_limit(owner, make_server, settings):
    from automation.models import Schedule, ScheduleAction

    settings.MAX_QUEUED_PER_OWNER = 2
    first, second, third = make_server(), make_server(), make_server()
    Job.enqueue(first, JobKind.INSTALL, owner)
    Job.enqueue(second, JobKind.INSTALL, owner)
    schedule = Schedule.objects.create(
        server=third, name="Nightly update", cron="0 5 * * *", timezone="UTC", action=ScheduleAction.UPDATE
    )
    from automation import actions

    job, outcome = actions.run(schedule)
    assert job is None
    assert outcome.startswith("Skipped: 2 jobs are already waiting")
    assert not third.jobs.exists()


def test_the_monitors_crash_restart_is_not_held_by_the_owners_queue_limit(owner, make_server, settings):
    settings.MAX_QUEUED_PER_OWNER = 1
    first, second = make_server(), make_server()
    Job.enqueue(first, JobKind.INSTALL, owner)
    job = Job.enqueue(second, JobKind.RESTART, None, trigger=JobTrigger.MONITOR)
    assert job.state == JobState.QUEUED
