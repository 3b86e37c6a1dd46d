"""Job pages: detail, cancel, re-run, plain and streamed logs, a server's history and enqueue, /admin/jobs."""

from asgiref.sync import sync_to_async
from django.contrib import admin, messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseForbidden, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from servers.access import server_for_user
from servers.models import Server
from streams.frames import parse_after, sse_text
from streams.tail import follow, iter_chunks

from .access import job_for_user
from .models import CancelOutcome, Job, JobKind, JobLog, JobState, JobTrigger
from .models.job import QueueFull
from .pagination import keyset_page, positive_id
from .source import JobSource

LOG_VIEW_LINES = 5000  # lines the job page shows at most; older ones are in log.txt

# The fragments htmx swaps in place, by the element they replace.
PANEL = "jobs/_job_status.html"
ROW = "jobs/_job_row.html"


def _fragment(request):
    """The partial an htmx request targets: the job page's status panel, or a table row."""
    return PANEL if request.htmx.target == "job-status" else ROW


def _show_server(request):
    return request.GET.get("show_server") == "1" or request.POST.get("show_server") == "1"


@require_GET
@login_required
def job_detail(request, job_id):
    job = job_for_user(request.user, job_id)
    if request.htmx:
        # The live page re-renders its metadata panel (or a table row) on state changes.
        return render(request, _fragment(request), {"job": job, "show_server": _show_server(request)})
    # A huge log opens on its last lines, like a CI job page: the page stays fast
    # however much the job printed, and the full log is one click away.
    skipped = max(0, JobLog.objects.last_seq(job.id) - LOG_VIEW_LINES)
    context = {"job": job, "skipped": skipped, "max_lines": 2 * LOG_VIEW_LINES}
    return render(request, "jobs/detail.html", context)


@require_POST
@login_required
def job_cancel(request, job_id):
    job = job_for_user(request.user, job_id)
    outcome = job.request_cancel(request.user)
    job.refresh_from_db()
    status = 409 if outcome == CancelOutcome.FINISHED else 200
    if request.htmx:
        context = {"job": job, "notice": outcome.label, "show_server": _show_server(request)}
        return render(request, _fragment(request), context, status=status)
    if status == 409:
        return render(
            request,
            "error.html",
            {"title": "Nothing to cancel", "message": outcome.label, "back": job.get_absolute_url()},
            status=409,
        )
    messages.info(request, f"Job #{job.id}: {outcome.label}")
    return redirect(_back(request, job.get_absolute_url()))


def _back(request, default):
    target = request.POST.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


@require_GET
@login_required
def job_log_txt(request, job_id):
    job = job_for_user(request.user, job_id)

    async def render_lines():
        # Read in seq-ordered chunks: a million-line log costs no more memory than a short one.
        async for rows in iter_chunks(JobSource(job.id)):
            yield "".join(
                f"{row['line']}\n" if row["stream"] == "stdout" else f"[{row['stream']}] {row['line']}\n"
                for row in rows
            )

    response = StreamingHttpResponse(render_lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.id}.log"'
    return response


@require_GET
async def job_events(request, job_id):
    """The live log as Server-Sent Events (DESIGN.md §4), for curl -N and EventSource."""
    user = await request.auser()
    if not user.is_authenticated:
        return HttpResponseForbidden("Log in to follow job logs.", content_type="text/plain")
    try:
        job = await sync_to_async(job_for_user)(user, job_id)
    except Http404:
        return HttpResponse("No such job.", status=404, content_type="text/plain")
    try:
        # EventSource sends Last-Event-ID on reconnect; it wins over ?after=.
        after = parse_after(request.headers.get("Last-Event-ID") or request.GET.get("after"))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    response = StreamingHttpResponse(
        sse_text(follow(JobSource(job.id), after)), content_type="text/event-stream; charset=utf-8"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


@require_http_methods(["GET", "POST"])
@login_required
def server_jobs(request, server_id):
    """GET: a server's job history, newest first; POST kind=<kind>: enqueue, then show the job."""
    server = server_for_user(request.user, server_id)
    if request.method == "POST":
        return _enqueue(request, server)
    page = keyset_page(server.jobs.for_table(), request.GET)
    return render(request, "servers/jobs.html", {"server": server, "page": page})


def _enqueue(request, server):
    kind = request.POST.get("kind", "")
    if kind not in JobKind.values:
        allowed = ", ".join(JobKind.values)
        return render(
            request,
            "error.html",
            {"title": "Unknown action", "message": f"“{kind}” is not a job kind. Use one of: {allowed}."},
            status=400,
        )
    return _enqueue_and_show(request, server, kind)


def _enqueue_and_show(request, server, kind, *, parent=None):
    """Queue `kind` on `server` for the user (a re-run of `parent`, if given), then show the job."""
    how = {"trigger": JobTrigger.RETRY, "parent": parent} if parent else {}
    try:
        job = Job.enqueue(server, kind, request.user, **how)
    except QueueFull as exc:
        return render(
            request, "error.html", {"title": "Too many jobs waiting", "message": str(exc)}, status=429
        )
    what = f"{JobKind(kind).label} of {server.name}"
    if job.duplicate:
        messages.info(request, f"{what} was already queued as job #{job.id}.")
    elif parent:
        messages.success(request, f"{what} queued again as job #{job.id}, a re-run of job #{parent.id}.")
    else:
        messages.success(request, f"{what} queued as job #{job.id}.")
    return redirect(job)


@require_POST
@login_required
def job_retry(request, job_id):
    """A finished job again: same kind, same server, a new job that points back at this one."""
    job = job_for_user(request.user, job_id)
    if not job.is_finished:
        state = job.get_state_display().lower()
        message = f"Job #{job.id} is {state}: it can be re-run once it has finished."
        context = {"title": "Not finished yet", "message": message, "back": job.get_absolute_url()}
        return render(request, "error.html", context, status=409)
    return _enqueue_and_show(request, job.server, job.kind, parent=job)


def admin_jobs(request):
    """/admin/jobs: every job in the shared job table, filterable, newest first."""
    jobs = Job.objects.for_table()
    filters = {
        "state": (JobState.choices, request.GET.get("state", "")),
        "kind": (JobKind.choices, request.GET.get("kind", "")),
    }
    for field, (choices, value) in filters.items():
        if value in dict(choices):
            jobs = jobs.filter(**{field: value})
    server_id = positive_id(request.GET.get("server"))
    if server_id:
        jobs = jobs.filter(server_id=server_id)
    context = {
        **admin.site.each_context(request),
        "title": "Jobs",
        "page": keyset_page(jobs, request.GET),
        "states": JobState.choices,
        "kinds": JobKind.choices,
        "servers": Server.objects.only("id", "name").order_by("name"),
        "selected": {
            "state": filters["state"][1],
            "kind": filters["kind"][1],
            "server": str(server_id or ""),
        },
    }
    return render(request, "admin/jobs.html", context)
