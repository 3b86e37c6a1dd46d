"""Job pages: a job, its cancel and re-run, a server's job history and enqueue.

The log as text, events, search and windows of lines are in log_views.py; /admin/jobs in admin_views.py.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from l4d2site.pagination import keyset_page
from servers.access import require, server_for_user

from .access import KIND_PERMISSION, job_for_user
from .models import LIFECYCLE_KINDS, CancelOutcome, Job, JobKind, JobLog, JobState, JobTrigger
from .models.job import QueueFull
from .outcome import failure_reason
from .rules import WARNED_KINDS, refusal
from .templatetags.job_tags import ROW

LOG_VIEW_LINES = 5000  # lines the job page shows at most; older ones load on demand or are in log.txt
QUEUED_FLASH = "job-queued"  # the "queued as job #N" message: the job page drops it once the job starts

# The fragments htmx swaps in place, by the element they replace.
PANEL = "jobs/_job_status.html"


def _fragment(request):
    """The partial an htmx request targets: the job page's status panel, or a table row."""
    return PANEL if request.htmx.target == "job-status" else ROW


def _flag(request, name):
    return request.GET.get(name) == "1" or request.POST.get(name) == "1"


def _row_options(request):
    """How a table row re-renders: with the server column, with the bulk-action checkbox (/admin/jobs)."""
    return {"show_server": _flag(request, "show_server"), "selectable": _flag(request, "select")}


def _status_context(job, **extra):
    """What the status panel shows besides the job: the lines a failure came down to."""
    return {"job": job, "reason": failure_reason(job), **extra}


@require_GET
@login_required
def job_detail(request, job_id):
    job = job_for_user(request.user, job_id)
    if request.htmx:
        # The live page re-renders its status panel (or a table row) on state changes.
        fragment = _fragment(request)
        context = _status_context(job) if fragment == PANEL else {"job": job}
        return render(request, fragment, {**context, **_row_options(request)})
    # A huge log opens on its last lines, like a CI job page: the page stays fast
    # however much the job printed; older lines load on demand.
    skipped = max(0, JobLog.objects.last_seq(job.id) - LOG_VIEW_LINES)
    context = _status_context(job, skipped=skipped, max_lines=2 * LOG_VIEW_LINES)
    if job.state != JobState.QUEUED:
        context["drop_flash"] = QUEUED_FLASH  # "queued as job #N" is old news once it started
    return render(request, "jobs/detail.html", context)


@require_POST
@login_required
def job_cancel(request, job_id):
    job = job_for_user(request.user, job_id, "jobs.cancel")
    outcome = job.request_cancel(request.user, request=request)
    job.refresh_from_db()
    status = 409 if outcome == CancelOutcome.FINISHED else 200
    if request.htmx:
        fragment = _fragment(request)
        context = _status_context(job) if fragment == PANEL else {"job": job}
        context.update(notice=outcome.label, **_row_options(request))
        return render(request, fragment, context, status=status)
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


@require_http_methods(["GET", "POST"])
@login_required
def server_jobs(request, server_id):
    """GET: a server's job history, newest first; POST kind=<kind>: enqueue, then show the job."""
    server = server_for_user(request.user, server_id)
    if request.method == "POST":
        return _enqueue(request, server)
    page = keyset_page(server.jobs.row_keys(server_column=False), request.GET)
    return render(request, "servers/jobs.html", {"server": server, "page": page, "source": server.jobs})


def _enqueue(request, server):
    kind = request.POST.get("kind", "")
    if kind not in LIFECYCLE_KINDS:
        allowed = ", ".join(LIFECYCLE_KINDS)
        return render(
            request,
            "error.html",
            {"title": "Unknown action", "message": f"“{kind}” is not a job kind. Use one of: {allowed}."},
            status=400,
        )
    require(request.user, server, KIND_PERMISSION[kind])
    return _enqueue_and_show(request, server, kind)


def _refused(request, server, kind, back):
    """409 with the reason its button gives, if `kind` makes no sense for the server now."""
    if why := refusal(kind, server):
        context = {"title": "Not possible now", "message": why, "back": back}
        return render(request, "error.html", context, status=409)
    return None


def _enqueue_and_show(request, server, kind, *, parent=None):
    """Queue `kind` on `server` for the user (a re-run of `parent`, if given), then show the job.

    Refused (409) when the kind's button would be off for the state the server is in.
    """
    back = parent.get_absolute_url() if parent else server.get_absolute_url()
    if refused := _refused(request, server, kind, back):
        return refused
    how = {"trigger": JobTrigger.RETRY, "parent": parent} if parent else {}
    if kind == JobKind.RESTART and request.POST.get("apply") == "1":
        how["detail"] = {"reason": "to apply the saved settings"}  # Apply now, on the server page
    try:
        job = Job.enqueue(server, kind, request.user, request=request, **how)
    except QueueFull as exc:
        return render(
            request, "error.html", {"title": "Too many jobs waiting", "message": str(exc)}, status=429
        )
    what = f"{JobKind(kind).label} of {server.name}"
    if job.duplicate:
        messages.info(request, f"{what} was already queued as job #{job.id}.", extra_tags=QUEUED_FLASH)
    elif parent:
        text = f"{what} queued again as job #{job.id}, a re-run of job #{parent.id}."
        messages.success(request, text, extra_tags=QUEUED_FLASH)
    else:
        messages.success(request, f"{what} queued as job #{job.id}.", extra_tags=QUEUED_FLASH)
    return redirect(job)


@require_POST
@login_required
def job_retry(request, job_id):
    """A finished job again: same kind, same server, a new job that points back at this one."""
    job = job_for_user(request.user, job_id)
    require(request.user, job.server, KIND_PERMISSION[job.kind])
    if not job.is_finished:
        state = job.get_state_display().lower()
        message = f"Job #{job.id} is {state}: it can be re-run once it has finished."
        context = {"title": "Not finished yet", "message": message, "back": job.get_absolute_url()}
        return render(request, "error.html", context, status=409)
    return _enqueue_and_show(request, job.server, job.kind, parent=job)


@require_POST
@login_required
def job_now(request, job_id):
    """End the players' warning of a running restart, stop or update now: the worker sees the flag."""
    job = job_for_user(request.user, job_id)
    require(request.user, job.server, KIND_PERMISSION[job.kind])
    if job.kind not in WARNED_KINDS:
        message = f"A {job.get_kind_display().lower()} does not warn players: there is no wait to skip."
    elif not job.request_hurry():
        message = f"Job #{job.id} is {job.get_state_display().lower()}: there is no warning to end."
    else:
        message = ""
    if message:
        context = {"title": "Nothing to skip", "message": message, "back": job.get_absolute_url()}
        return render(request, "error.html", context, status=409)
    job.refresh_from_db()
    if request.htmx:
        return render(request, PANEL, {**_status_context(job), "notice": "Going on now."})
    messages.info(request, f"Job #{job.id}: going on now, without the rest of the warning.")
    return redirect(job)
