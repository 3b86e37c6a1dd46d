"""Every page for the cast: owner, other owner, staff, anonymous."""

import pytest
from asgiref.sync import async_to_sync

from jobs.models import Job, JobKind, JobLog, JobState
from servers.models import DesiredState, Server

pytestmark = pytest.mark.django_db


# --- server pages ---------------------------------------------------------------


def test_server_list_shows_only_the_owners_servers(owner_client, server, other_server):
    response = owner_client.get("/servers/")
    assert response.status_code == 200
    assert server.name.encode() in response.content.replace(b"&#x27;", b"'")
    assert b"Other&#x27;s server" not in response.content


def test_staff_server_list_shows_every_server(staff_client, server, other_server):
    response = staff_client.get("/servers/")
    assert b"Owner&#x27;s server" in response.content
    assert b"Other&#x27;s server" in response.content


def test_server_list_shows_port_and_states(owner_client, server):
    content = owner_client.get("/servers/").content.decode()
    assert str(server.port) in content
    assert "Stopped" in content and "Unknown" in content


@pytest.mark.parametrize("path", ["/servers/", "/servers/{id}", "/servers/{id}/jobs", "/jobs/{job}"])
def test_anonymous_is_redirected_to_login(anon_client, server, job, path):
    response = anon_client.get(path.format(id=server.id, job=job.id))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(
    "path", ["/servers/{id}", "/servers/{id}/jobs", "/jobs/{job}", "/jobs/{job}/log.txt"]
)
def test_outsider_gets_404(other_client, server, job, path):
    assert other_client.get(path.format(id=server.id, job=job.id)).status_code == 404


@pytest.mark.parametrize("path", ["/servers/{id}", "/servers/{id}/jobs", "/jobs/{job}"])
def test_owner_and_staff_see_the_pages(owner_client, staff_client, server, job, path):
    for client in (owner_client, staff_client):
        assert client.get(path.format(id=server.id, job=job.id)).status_code == 200


def test_missing_server_and_job_get_404(owner_client):
    assert owner_client.get("/servers/999999").status_code == 404
    assert owner_client.get("/jobs/999999").status_code == 404


def test_server_detail_offers_every_action_as_a_csrf_protected_post(owner_client, server):
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    for kind in JobKind.values:
        assert f'name="kind" value="{kind}"' in content
    assert content.count(f'action="/servers/{server.id}/jobs"') == len(JobKind.values)
    assert content.count("csrfmiddlewaretoken") >= len(JobKind.values)


def test_server_detail_shows_the_ten_most_recent_jobs_and_links_the_history(owner_client, server, owner):
    jobs = [Job.enqueue(server, JobKind.UPDATE, owner) for _ in range(12)]
    content = owner_client.get(f"/servers/{server.id}").content.decode()
    assert f'href="/servers/{server.id}/jobs"' in content
    shown = [j.id for j in jobs if f'href="/jobs/{j.id}"' in content]
    assert shown == [j.id for j in jobs[-10:]]


def test_seed_paths_answer_without_trailing_slash(owner_client, server, job):
    for path in (f"/servers/{server.id}", f"/servers/{server.id}/jobs", f"/jobs/{job.id}"):
        assert owner_client.get(path).status_code == 200


# --- enqueueing ------------------------------------------------------------------


def test_owner_enqueues_install_and_is_redirected_to_the_job(owner_client, owner, server):
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    job = Job.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/jobs/{job.id}"
    assert (job.kind, job.state, job.requested_by) == ("install", JobState.QUEUED, owner)


@pytest.mark.parametrize(
    "kind, desired",
    [("start", DesiredState.RUNNING), ("restart", DesiredState.RUNNING), ("stop", DesiredState.STOPPED)],
)
def test_enqueue_sets_desired_state(owner_client, server, kind, desired):
    if desired == DesiredState.STOPPED:
        server.desired_state = DesiredState.RUNNING
        server.save()
    owner_client.post(f"/servers/{server.id}/jobs", {"kind": kind})
    server.refresh_from_db()
    assert server.desired_state == desired


def test_install_leaves_desired_state_alone(owner_client, server):
    owner_client.post(f"/servers/{server.id}/jobs", {"kind": "install"})
    server.refresh_from_db()
    assert server.desired_state == DesiredState.STOPPED


@pytest.mark.parametrize("kind", ["", "format_disk", "INSTALL", "install; rm -rf /"])
def test_unknown_kind_answers_400_and_creates_nothing(owner_client, server, kind):
    response = owner_client.post(f"/servers/{server.id}/jobs", {"kind": kind})
    assert response.status_code == 400
    assert b"is not a job kind" in response.content
    assert not Job.objects.exists()


def test_outsider_cannot_enqueue(other_client, server):
    assert other_client.post(f"/servers/{server.id}/jobs", {"kind": "start"}).status_code == 404
    assert not Job.objects.exists()


def test_anonymous_cannot_enqueue(anon_client, server):
    response = anon_client.post(f"/servers/{server.id}/jobs", {"kind": "start"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert not Job.objects.exists()


def test_staff_can_enqueue_on_any_server(staff_client, staff, other_server):
    staff_client.post(f"/servers/{other_server.id}/jobs", {"kind": "start"})
    assert Job.objects.get().requested_by == staff


def test_enqueue_requires_csrf_token(owner, server):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/servers/{server.id}/jobs", {"kind": "install"}).status_code == 403
    assert not Job.objects.exists()


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_server_jobs_rejects_other_methods(owner_client, server, method):
    assert getattr(owner_client, method)(f"/servers/{server.id}/jobs").status_code == 405


# --- job history and /admin/jobs -------------------------------------------------


def test_server_history_is_newest_first_and_paginated_by_50(owner_client, server, owner):
    jobs = [Job.enqueue(server, JobKind.UPDATE, owner) for _ in range(120)]
    first = owner_client.get(f"/servers/{server.id}/jobs")
    page1 = first.context["page"]
    assert [j.id for j in page1.jobs] == [j.id for j in reversed(jobs)][:50]
    page2 = owner_client.get(f"/servers/{server.id}/jobs?before={page1.older}").context["page"]
    assert [j.id for j in page2.jobs] == [j.id for j in reversed(jobs)][50:100]
    page3 = owner_client.get(f"/servers/{server.id}/jobs?before={page2.older}").context["page"]
    assert [j.id for j in page3.jobs] == [j.id for j in reversed(jobs)][100:]
    assert page3.older is None
    back = owner_client.get(f"/servers/{server.id}/jobs?after={page2.newer}").context["page"]
    assert [j.id for j in back.jobs] == [j.id for j in page1.jobs]


def test_server_history_ignores_bad_page_parameters(owner_client, server, job):
    for query in ("?before=abc", "?after=-5", "?before=0"):
        response = owner_client.get(f"/servers/{server.id}/jobs{query}")
        assert response.status_code == 200
        assert [j.id for j in response.context["page"].jobs] == [job.id]


def test_server_history_lists_only_that_servers_jobs(owner_client, owner, server, make_server):
    mine = Job.enqueue(server, JobKind.START, owner)
    elsewhere = Job.enqueue(make_server(), JobKind.START, owner)
    content = owner_client.get(f"/servers/{server.id}/jobs").content.decode()
    assert f'href="/jobs/{mine.id}"' in content
    assert f'href="/jobs/{elsewhere.id}"' not in content


def test_admin_jobs_lists_every_job_linked_to_its_page(
    staff_client, owner, other_owner, server, other_server
):
    a = Job.enqueue(server, JobKind.INSTALL, owner)
    b = Job.enqueue(other_server, JobKind.START, other_owner)
    response = staff_client.get("/admin/jobs")
    assert response.status_code == 200
    content = response.content.decode()
    assert f'href="/jobs/{a.id}"' in content and f'href="/jobs/{b.id}"' in content
    assert content.index(f'href="/jobs/{b.id}"') < content.index(f'href="/jobs/{a.id}"')
    assert "Owner&#x27;s server" in content and "Other&#x27;s server" in content


def test_admin_jobs_filters_by_state_kind_and_server(staff_client, owner, server, other_server):
    install = Job.enqueue(server, JobKind.INSTALL, owner)
    start = Job.enqueue(other_server, JobKind.START, owner)
    Job.objects.filter(pk=start.pk).update(state=JobState.FAILED)

    def listed(query):
        return [j.id for j in staff_client.get("/admin/jobs" + query).context["page"].jobs]

    assert listed("?state=failed") == [start.id]
    assert listed("?kind=install") == [install.id]
    assert listed(f"?server={server.id}") == [install.id]
    assert listed("?state=bogus") == [start.id, install.id]


def test_admin_jobs_is_staff_only(owner_client, anon_client):
    for client in (owner_client, anon_client):
        response = client.get("/admin/jobs")
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/")


def test_admin_jobs_with_trailing_slash_redirects_to_the_table(staff_client):
    response = staff_client.get("/admin/jobs/?state=queued")
    assert response.status_code == 302 and response["Location"] == "/admin/jobs?state=queued"


@pytest.mark.parametrize("count", [3, 300])
def test_list_pages_cost_a_fixed_number_of_queries(
    count, owner_client, staff_client, owner, server, django_assert_max_num_queries
):
    Job.objects.bulk_create(
        [Job(server=server, kind=JobKind.UPDATE, requested_by=owner) for _ in range(count)]
    )
    with django_assert_max_num_queries(6):
        assert owner_client.get(f"/servers/{server.id}/jobs").status_code == 200
    with django_assert_max_num_queries(6):
        assert owner_client.get(f"/servers/{server.id}").status_code == 200
    with django_assert_max_num_queries(4):
        assert owner_client.get("/servers/").status_code == 200
    with django_assert_max_num_queries(7):
        assert staff_client.get("/admin/jobs").status_code == 200


# --- job page ----------------------------------------------------------------------


def test_job_page_shows_metadata(owner_client, job):
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    for text in ("Install", "Queued", "owner", f"/ws/jobs/{job.id}/logs", f"/jobs/{job.id}/log.txt"):
        assert text in content


def streamed(response):
    """The body of an async streaming response, read from sync test code."""

    async def read():
        return b"".join([chunk async for chunk in response.streaming_content])

    return async_to_sync(read)().decode()


@pytest.mark.django_db(transaction=True)
def test_log_lines_are_never_rendered_as_markup(owner_client, job):
    JobLog.objects.create(job=job, seq=1, stream="stdout", line="<script>alert(1)</script>")
    content = streamed(owner_client.get(f"/jobs/{job.id}/log.txt"))
    assert "<script>alert(1)</script>" in content  # plain text download, verbatim
    page = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert "<script>alert(1)</script>" not in page


@pytest.mark.django_db(transaction=True)
def test_log_download_is_plain_text_in_seq_order(owner_client, job):
    JobLog.objects.bulk_create(
        [
            JobLog(job=job, seq=2, stream="stderr", line="second"),
            JobLog(job=job, seq=1, stream="stdout", line="first"),
            JobLog(job=job, seq=3, stream="system", line="third"),
        ]
    )
    response = owner_client.get(f"/jobs/{job.id}/log.txt")
    assert response["Content-Type"].startswith("text/plain")
    assert streamed(response) == "first\n[stderr] second\n[system] third\n"


def test_simulated_host_banner_is_shown(owner_client, server):
    assert b"Simulated host" in owner_client.get("/servers/").content


def test_login_page_is_styled_and_works(anon_client, owner):
    page = anon_client.get("/accounts/login/")
    assert page.status_code == 200 and b"panel.css" in page.content
    response = anon_client.post("/accounts/login/", {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302 and response["Location"] == "/servers/"


def test_root_redirects_to_servers(owner_client):
    assert owner_client.get("/")["Location"] == "/servers/"


# --- cancel --------------------------------------------------------------------------


def test_owner_cancels_a_queued_job(owner_client, owner, server, job):
    server.desired_state = DesiredState.RUNNING
    server.save()
    response = owner_client.post(f"/jobs/{job.id}/cancel", {"next": f"/servers/{server.id}/jobs"})
    assert response.status_code == 302 and response["Location"] == f"/servers/{server.id}/jobs"
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.exit_code == 1
    assert job.finished_at and job.cancel_requested_by == owner
    log = list(JobLog.objects.filter(job=job).values_list("seq", "stream", "line"))
    assert log == [(1, "stderr", "Cancelled by owner before execution.")]
    server.refresh_from_db()
    assert server.desired_state == DesiredState.RUNNING  # cancel is not rollback
    followed = owner_client.get(response["Location"])
    assert "cancelled before it ran" in followed.content.decode()


def test_cancel_redirects_to_the_job_when_next_is_foreign(owner_client, job):
    response = owner_client.post(f"/jobs/{job.id}/cancel", {"next": "https://evil.example/"})
    assert response["Location"] == f"/jobs/{job.id}"


def test_cancel_of_a_running_job_asks_the_worker(owner_client, owner, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    owner_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    assert job.state == JobState.CANCELLING
    assert job.cancel_requested_by == owner and job.cancel_requested_at
    assert job.finished_at is None


def test_repeated_cancel_of_a_cancelling_job_changes_nothing_and_says_so(owner_client, staff_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.RUNNING)
    owner_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    before = (job.state, job.cancel_requested_at, job.cancel_requested_by_id, job.updated_at)
    response = staff_client.post(f"/jobs/{job.id}/cancel", follow=True)
    assert "already requested" in response.content.decode()
    job.refresh_from_db()
    assert (job.state, job.cancel_requested_at, job.cancel_requested_by_id, job.updated_at) == before


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED])
def test_cancel_of_a_finished_job_answers_409_and_changes_nothing(owner_client, job, state):
    Job.objects.filter(pk=job.pk).update(state=state, exit_code=0)
    job.refresh_from_db()
    response = owner_client.post(f"/jobs/{job.id}/cancel")
    assert response.status_code == 409
    assert "already finished" in response.content.decode()
    after = Job.objects.get(pk=job.pk)
    assert (after.state, after.updated_at, after.cancel_requested_at) == (state, job.updated_at, None)
    assert not JobLog.objects.filter(job=job).exists()


def test_staff_can_cancel_any_job(staff_client, staff, job):
    staff_client.post(f"/jobs/{job.id}/cancel")
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.cancel_requested_by == staff


def test_outsider_cancel_gets_404_and_changes_nothing(other_client, job):
    assert other_client.post(f"/jobs/{job.id}/cancel").status_code == 404
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_anonymous_cancel_is_redirected_to_login(anon_client, job):
    response = anon_client.post(f"/jobs/{job.id}/cancel")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_cancel_with_get_is_405(owner_client, job):
    assert owner_client.get(f"/jobs/{job.id}/cancel").status_code == 405
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_cancel_requires_csrf_token(owner, job):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/jobs/{job.id}/cancel").status_code == 403
    job.refresh_from_db()
    assert job.state == JobState.QUEUED


def test_htmx_cancel_swaps_the_row_in_place(owner_client, job):
    response = owner_client.post(
        f"/jobs/{job.id}/cancel", {"fragment": "row"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    content = response.content.decode()
    assert f'id="job-row-{job.id}"' in content
    assert "Cancelled" in content and "<html" not in content


def test_htmx_cancel_of_a_finished_job_answers_409_with_the_fresh_panel(owner_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.SUCCEEDED)
    response = owner_client.post(
        f"/jobs/{job.id}/cancel", {"fragment": "panel"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 409
    assert 'id="job-status"' in response.content.decode() and "Succeeded" in response.content.decode()


def test_cancel_buttons_show_for_queued_and_running_and_disabled_while_cancelling(
    owner_client, server, owner
):
    queued = Job.enqueue(server, JobKind.INSTALL, owner)
    running = Job.enqueue(server, JobKind.UPDATE, owner)
    cancelling = Job.enqueue(server, JobKind.START, owner)
    done = Job.enqueue(server, JobKind.STOP, owner)
    Job.objects.filter(pk=running.pk).update(state=JobState.RUNNING)
    Job.objects.filter(pk=cancelling.pk).update(state=JobState.CANCELLING)
    Job.objects.filter(pk=done.pk).update(state=JobState.SUCCEEDED)
    content = owner_client.get(f"/servers/{server.id}/jobs").content.decode()
    assert f'action="/jobs/{queued.id}/cancel"' in content
    assert f'action="/jobs/{running.id}/cancel"' in content
    assert f'action="/jobs/{cancelling.id}/cancel"' not in content and "Cancelling…" in content
    assert f'action="/jobs/{done.id}/cancel"' not in content
    page = owner_client.get(f"/jobs/{running.id}").content.decode()
    assert f'action="/jobs/{running.id}/cancel"' in page


def test_admin_jobs_offers_cancel_buttons(staff_client, job):
    assert f'action="/jobs/{job.id}/cancel"' in staff_client.get("/admin/jobs").content.decode()


def test_admin_action_cancels_selected_jobs_with_the_same_rules(staff_client, server, owner):
    queued = Job.enqueue(server, JobKind.INSTALL, owner)
    finished = Job.enqueue(server, JobKind.UPDATE, owner)
    Job.objects.filter(pk=finished.pk).update(state=JobState.SUCCEEDED)
    response = staff_client.post(
        "/admin/jobs/job/",
        {"action": "cancel_selected", "_selected_action": [queued.pk, finished.pk]},
        follow=True,
    )
    content = response.content.decode()
    assert "1 job(s): The job was cancelled before it ran." in content
    assert "1 job(s): The job has already finished; nothing changed." in content
    assert Job.objects.get(pk=queued.pk).state == JobState.CANCELLED
    assert Job.objects.get(pk=finished.pk).state == JobState.SUCCEEDED


def test_job_page_warns_that_a_cancelled_run_may_leave_partial_state(owner_client, job):
    Job.objects.filter(pk=job.pk).update(state=JobState.CANCELLED, started_at=job.created_at)
    assert "does not roll back" in owner_client.get(f"/jobs/{job.id}").content.decode()


# --- servers created in the admin ---------------------------------------------------


def test_a_server_created_in_the_admin_appears_for_its_owner(staff_client, owner_client, owner):
    response = staff_client.post(
        "/admin/servers/server/add/",
        {"owner": owner.id, "name": "Dark Carnival", "port": 27100, "map": "c2m1_highway", "max_players": 8},
    )
    assert response.status_code == 302
    page = owner_client.get("/servers/").content.decode()
    assert "Dark Carnival" in page and "27100" in page


@pytest.mark.parametrize(
    "field, value",
    [
        ("name", 'x" ; rcon_password "y'),
        ("name", "two\nlines"),
        ("map", "c1m1_hotel; quit"),
        ("port", 80),
        ("port", 70000),
        ("max_players", 0),
    ],
)
def test_the_admin_refuses_values_that_could_break_the_server(staff_client, owner, field, value):
    data = {
        "owner": owner.id,
        "name": "Fine",
        "port": 27101,
        "map": "c1m1_hotel",
        "max_players": 8,
        field: value,
    }
    response = staff_client.post("/admin/servers/server/add/", data)
    assert response.status_code == 200  # the form again, with the error
    assert response.context["adminform"].form.errors[field]
    assert not Server.objects.exists()


def test_a_huge_log_opens_on_its_last_lines_with_a_link_to_the_rest(owner_client, job):
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream="stdout", line=f"l{i}") for i in range(1, 6001)]
    )
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert 'data-after="1000"' in content
    assert '<span id="log-skipped-count">1000</span> earlier lines' in content
    assert f'href="/jobs/{job.id}/log.txt">download the full log' in content


def test_a_short_log_opens_from_its_first_line(owner_client, job):
    JobLog.objects.create(job=job, seq=1, stream="stdout", line="only")
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert 'data-after="0"' in content and 'id="log-skipped" hidden' in content
