"""The job pages for the cast (owner, other owner, staff, anonymous): access, history, /admin/jobs, a job."""

import re
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.models import Job, JobKind, JobLog, JobState, JobTrigger
from servers.models import Node, Server

pytestmark = pytest.mark.django_db


# --- access ----------------------------------------------------------------------


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


def test_seed_paths_answer_without_trailing_slash(owner_client, server, job):
    for path in (f"/servers/{server.id}", f"/servers/{server.id}/jobs", f"/jobs/{job.id}"):
        assert owner_client.get(path).status_code == 200


# --- job history and /admin/jobs -------------------------------------------------


def test_server_history_is_newest_first_and_paginated_by_50(owner_client, server, owner):
    jobs = [Job.objects.create(server=server, kind=JobKind.UPDATE, requested_by=owner) for _ in range(120)]
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
    Job.objects.filter(pk=install.pk).update(trigger=JobTrigger.SCHEDULE)
    assert listed("?trigger=schedule") == [install.id]


def test_admin_jobs_keeps_the_panels_look_and_nav(staff_client, job):
    page = staff_client.get("/admin/jobs").content.decode()
    assert '<header class="topbar">' in page and 'href="/webhooks/"' in page  # the panel's nav
    assert "<h1>All jobs</h1>" in page and 'id="header"' not in page  # not the Django admin's frame


def test_admin_jobs_sends_anonymous_to_the_login_page(anon_client):
    response = anon_client.get("/admin/jobs")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/admin/jobs"


def test_admin_jobs_tells_a_non_staff_user_it_is_staff_only(owner_client, job):
    response = owner_client.get("/admin/jobs")
    assert response.status_code == 403
    content = response.content.decode()
    assert "Staff only" in content and "Your servers" in content
    assert f'href="/jobs/{job.id}"' not in content  # nothing of the table leaks


def test_admin_jobs_says_when_no_job_matches_the_filters(staff_client, job):
    assert "No jobs match these filters." in staff_client.get("/admin/jobs?state=failed").content.decode()
    unfiltered = staff_client.get("/admin/jobs").content.decode()
    assert "No jobs match" not in unfiltered and f'href="/jobs/{job.id}"' in unfiltered


def test_admin_jobs_without_any_job_says_so(staff_client):
    assert "No jobs yet." in staff_client.get("/admin/jobs").content.decode()


def test_the_admins_job_changelist_redirects_to_admin_jobs_keeping_its_filters(staff_client, server):
    response = staff_client.get(
        f"/admin/jobs/job/?state__exact=failed&trigger__exact=retry&server__id__exact={server.id}"
    )
    assert response.status_code == 302
    assert response["Location"] == f"/admin/jobs?state=failed&trigger=retry&server={server.id}"
    assert staff_client.get("/admin/jobs/job/?kind__exact=nonsense")["Location"] == "/admin/jobs"


def test_the_admins_job_change_page_redirects_to_the_job_page(staff_client, job):
    response = staff_client.get(f"/admin/jobs/job/{job.id}/change/")
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.id}"


def test_the_admin_says_l4d2_host_panel(staff_client):
    content = staff_client.get("/admin/").content.decode()
    assert "L4D2 host panel" in content and "Django administration" not in content
    assert "`" not in staff_client.get("/admin/servers/server/add/").content.decode()


def test_admin_jobs_with_trailing_slash_redirects_to_the_table(staff_client):
    response = staff_client.get("/admin/jobs/?state=queued")
    assert response.status_code == 302 and response["Location"] == "/admin/jobs?state=queued"


def _sqlite_steps(client, url):
    """How many SQLite VM instructions the page's queries take: rows read, not time."""
    from django.db import connection

    connection.ensure_connection()
    steps = []
    connection.connection.set_progress_handler(lambda: steps.append(1) and 0, 1)
    try:
        assert client.get(url).status_code == 200
    finally:
        connection.connection.set_progress_handler(None, 100)
    assert steps, "the page ran on another connection: nothing was counted"
    return len(steps)


def test_the_server_page_reads_no_more_of_a_long_history(owner_client, owner, make_server):
    """Its job reads (Start's rule, the job in progress, the last crash's restart) go through
    indexes: the same work after 5,000 restarts as after 20, not a walk back through them."""
    from django.db import connection

    from servers.models import CrashAction, ServerCrash

    if connection.vendor != "sqlite":
        pytest.skip("counts SQLite's instructions (PostgreSQL's plans: bench/README.md)")
    steps = {}
    for count in (20, 5_000):
        server = make_server()
        Job.objects.create(server=server, kind=JobKind.INSTALL, state=JobState.SUCCEEDED, requested_by=owner)
        restarts = [Job(server=server, kind=JobKind.RESTART, state=JobState.SUCCEEDED) for _ in range(count)]
        Job.objects.bulk_create(restarts)
        ServerCrash.objects.create(server=server, reason="segfault", detail="", action=CrashAction.RESTARTED)
        Job.objects.create(server=server, kind=JobKind.RESTART, trigger=JobTrigger.MONITOR, requested_by=None)
        steps[count] = _sqlite_steps(owner_client, f"/servers/{server.id}")
    assert steps[5_000] < steps[20] * 1.2, steps


@pytest.mark.parametrize("count", [3, 300])
def test_list_pages_cost_a_fixed_number_of_queries(
    count, owner_client, staff_client, owner, server, django_assert_max_num_queries
):
    Job.objects.bulk_create(
        [Job(server=server, kind=JobKind.UPDATE, requested_by=owner) for _ in range(count)]
    )
    with django_assert_max_num_queries(6):
        assert owner_client.get(f"/servers/{server.id}/jobs").status_code == 200
    # The server page also reads its live state (last pass, job in progress, last crash: the
    # server row it has), its 24 h of samples (the oldest and the newest, then the columns),
    # and whether its last install finished (Start's rule): a few queries more, still the same
    # for any history. Its recent jobs are two reads while a row is not kept (these are queued).
    with django_assert_max_num_queries(12):
        assert owner_client.get(f"/servers/{server.id}").status_code == 200
    # Session, user, memberships, servers (their live columns from the same rows); staff see
    # each server's owner and node too, from the same query.
    Server.objects.filter(pk=server.pk).update(node=Node.objects.create(name="box-1"))
    with django_assert_max_num_queries(4):
        assert owner_client.get("/servers/").status_code == 200
    with django_assert_max_num_queries(4):
        assert "box-1" in staff_client.get("/servers/").content.decode()
    with django_assert_max_num_queries(7):
        assert staff_client.get("/admin/jobs").status_code == 200


def test_a_finished_jobs_row_is_kept_and_drawn_again_when_what_it_shows_changes(
    owner_client, staff_client, owner, server
):
    done = Job.objects.create(
        server=server, kind=JobKind.UPDATE, requested_by=owner, state=JobState.SUCCEEDED
    )
    running = Job.objects.create(
        server=server, kind=JobKind.START, requested_by=owner, state=JobState.RUNNING
    )
    row = re.compile(rf'<tr id="job-row-{done.id}".*?</tr>', re.S)
    first = row.search(owner_client.get(f"/servers/{server.id}/jobs").content.decode()).group()
    assert ">Succeeded<" in first and ">owner<" in first
    # Kept: a finished job's kind never changes, so a change behind the panel's back (no
    # state, time or name of it changed) still shows the row as drawn, on the server page too.
    Job.objects.filter(pk=done.pk).update(kind=JobKind.INSTALL)
    assert row.search(owner_client.get(f"/servers/{server.id}").content.decode()).group() == first
    owner.username = "renamed"
    owner.save()
    Job.objects.filter(pk=done.pk).update(state=JobState.FAILED)
    again = row.search(owner_client.get(f"/servers/{server.id}/jobs").content.decode()).group()
    assert ">Failed<" in again and ">renamed<" in again
    # On /admin/jobs the row shows the server and its node's badge too: kept until they change.
    node = Node.objects.create(name="box-1", last_heartbeat=timezone.now())
    Server.objects.filter(pk=server.pk).update(node=node)
    admin_row = re.compile(rf'<tr id="job-row-{done.id}".*?</tr>', re.S)
    assert "host online" in admin_row.search(staff_client.get("/admin/jobs").content.decode()).group()
    Node.objects.filter(pk=node.pk).update(last_heartbeat=timezone.now() - timedelta(hours=1))
    Server.objects.filter(pk=server.pk).update(name="Renamed")
    drawn = admin_row.search(staff_client.get("/admin/jobs").content.decode()).group()
    assert "host offline" in drawn and ">Renamed<" in drawn
    # A job still going is drawn for each request: its Cancel button carries this session's token.
    assert (
        f'data-cancel-job="{running.id}"' in owner_client.get(f"/servers/{server.id}/jobs").content.decode()
    )


def whole_job_reads(client, url):
    """The SQL of the reads of whole jobs (their kind: what `row_keys` does not read) for `url`."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [q["sql"] for q in queries if '"jobs_job"."kind"' in q["sql"]]


def test_a_table_whose_rows_are_all_kept_builds_no_job(owner_client, owner, server):
    Job.objects.bulk_create(
        Job(server=server, kind=JobKind.UPDATE, requested_by=owner, state=JobState.SUCCEEDED)
        for _ in range(3)
    )
    assert len(whole_job_reads(owner_client, f"/servers/{server.id}/jobs")) == 1  # drawn, then kept
    assert whole_job_reads(owner_client, f"/servers/{server.id}/jobs") == []
    assert whole_job_reads(owner_client, f"/servers/{server.id}") == []  # the same rows, kept
    # A job still going is read whole, alone: its row is drawn for every request.
    running = Job.objects.create(
        server=server, kind=JobKind.START, requested_by=owner, state=JobState.RUNNING
    )
    (read,) = whole_job_reads(owner_client, f"/servers/{server.id}/jobs")
    assert f'"jobs_job"."id" IN ({running.id})' in read


def test_a_job_gone_between_the_tables_two_reads_leaves_the_table(rf, owner, server):
    kept, pruned = (Job.objects.create(server=server, kind=JobKind.UPDATE, requested_by=owner) for _ in "ab")
    rows = list(Job.objects.row_keys(server_column=False))
    source = Job.objects.exclude(pk=pruned.pk)  # as if pruned meanwhile
    request = rf.get("/")
    request.user = owner
    html = Template("{% load job_tags %}{% job_rows rows source %}").render(
        Context({"rows": rows, "source": source, "request": request, "user": owner})
    )
    assert f'id="job-row-{kept.id}"' in html and f'id="job-row-{pruned.id}"' not in html


# --- job page ----------------------------------------------------------------------


@pytest.mark.parametrize("lines", [3, 3_000])
def test_the_job_page_costs_the_same_queries_for_any_log(lines, owner_client, owner, server, job):
    JobLog.objects.bulk_create(
        JobLog(job=job, seq=n, stream="stdout", line=f"line {n}") for n in range(1, lines + 1)
    )
    rerun = Job.objects.create(
        server=server, kind=job.kind, requested_by=owner, parent=job, trigger=JobTrigger.RETRY
    )
    # Session, user, the job with its requester, its server, the log's last line, its re-runs.
    with CaptureQueriesContext(connection) as queries:
        content = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert len(queries) == 6, [q["sql"] for q in queries]
    assert f'<a href="/jobs/{rerun.id}">#{rerun.id}</a>' in content


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


def test_a_huge_log_opens_on_its_last_lines_with_a_link_to_the_rest(owner_client, job):
    JobLog.objects.bulk_create(
        [JobLog(job=job, seq=i, stream="stdout", line=f"l{i}") for i in range(1, 6001)]
    )
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert 'data-after="1000"' in content
    assert re.search(r'<span id="log-skipped-count"[^>]*>1000</span> earlier lines', content)
    assert f'href="/jobs/{job.id}/log.txt?timestamps=1">download the full log' in content


def test_a_short_log_opens_from_its_first_line(owner_client, job):
    JobLog.objects.create(job=job, seq=1, stream="stdout", line="only")
    content = owner_client.get(f"/jobs/{job.id}").content.decode()
    assert 'data-after="0"' in content and 'id="log-skipped" hidden' in content


def test_admin_jobs_offers_the_admins_bulk_actions_posted_to_the_changelist(staff_client, server, job):
    content = staff_client.get(f"/admin/jobs?state=queued&server={server.id}").content.decode()
    form = content[
        content.index('id="job-actions"') : content.index("</form>", content.index('id="job-actions"'))
    ]
    assert f'action="/admin/jobs/job/?state__exact=queued&amp;server__id__exact={server.id}"' in form
    assert 'value="cancel_selected"' in form and 'value="finish_stuck"' in form
    assert f'name="_selected_action" value="{job.id}" form="job-actions"' in content
    assert "_selected_action" not in staff_client.get(f"/servers/{server.id}/jobs").content.decode()


def test_a_bulk_action_from_admin_jobs_comes_back_to_admin_jobs(staff_client, server, owner, job):
    response = staff_client.post(
        f"/admin/jobs/job/?state__exact=queued&server__id__exact={server.id}",
        {"action": "cancel_selected", "index": "0", "_selected_action": [job.id]},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == f"/admin/jobs?state=queued&server={server.id}"
    assert "1 job(s): The job was cancelled before it ran." in response.content.decode()
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_a_row_on_admin_jobs_re_renders_with_its_checkbox(staff_client, job):
    row = staff_client.get(f"/jobs/{job.id}?show_server=1&select=1", headers={"HX-Request": "true"})
    assert f'id="select-job-{job.id}" hx-preserve' in row.content.decode()


def test_admin_names_crashes_and_worker_processes_in_plain_english(staff_client):
    page = staff_client.get("/admin/").content.decode()
    assert "Server crashes" in page and "Worker processes" in page
    assert "crashs" not in page and "processs" not in page


def test_every_page_names_an_icon_and_favicon_ico_leads_to_it(owner_client, anon_client):
    from django.contrib.staticfiles import finders

    assert '<link rel="icon" href="/static/favicon.svg"' in owner_client.get("/servers/").content.decode()
    answer = anon_client.get("/favicon.ico")
    assert answer.status_code == 301 and answer["Location"] == "/static/favicon.svg"
    assert finders.find("favicon.svg"), "the icon is a static file"
