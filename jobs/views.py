from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from .access import job_for_user
from .models import CancelOutcome, request_cancel
from .tail import iter_log_chunks

LOG_VIEW_LINES = 5000  # lines the job page shows at most; older ones are in log.txt

# The fragments htmx swaps in place: a job table row, or the job page's status panel.
CANCEL_FRAGMENTS = {"row": "jobs/_job_row.html", "panel": "jobs/_job_status.html"}


@require_GET
@login_required
def job_detail(request, job_id):
    job = job_for_user(request.user, job_id)
    if request.htmx and request.GET.get("fragment") in CANCEL_FRAGMENTS:
        # The live page re-renders its metadata panel (or a table row) on state changes.
        fragment = CANCEL_FRAGMENTS[request.GET["fragment"]]
        show_server = request.GET.get("show_server") == "1"
        return render(request, fragment, {"job": job, "show_server": show_server})
    # A huge log opens on its last lines, like a CI job page: the page stays fast
    # however much the job printed, and the full log is one click away.
    last_seq = job.logs.order_by("-seq").values_list("seq", flat=True).first() or 0
    skipped = max(0, last_seq - LOG_VIEW_LINES)
    context = {"job": job, "skipped": skipped, "max_lines": 2 * LOG_VIEW_LINES}
    return render(request, "jobs/detail.html", context)


@require_POST
@login_required
def job_cancel(request, job_id):
    job = job_for_user(request.user, job_id)
    outcome = request_cancel(job.id, request.user)
    job.refresh_from_db()
    status = 409 if outcome == CancelOutcome.FINISHED else 200
    if request.htmx:
        fragment = CANCEL_FRAGMENTS.get(request.POST.get("fragment"), CANCEL_FRAGMENTS["row"])
        return render(
            request,
            fragment,
            {"job": job, "notice": outcome.label, "show_server": request.POST.get("show_server") == "1"},
            status=status,
        )
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
        async for rows in iter_log_chunks(job.id):
            yield "".join(
                f"{row['line']}\n" if row["stream"] == "stdout" else f"[{row['stream']}] {row['line']}\n"
                for row in rows
            )

    response = StreamingHttpResponse(render_lines(), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="job-{job.id}.log"'
    return response
