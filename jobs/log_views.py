"""A job's log outside the live page: as text (downloaded or followed), as events, searched, in windows."""

from datetime import datetime

from asgiref.sync import sync_to_async
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, HttpResponseForbidden, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from l4d2site import socket_budget
from l4d2site.db import release_connections
from l4d2site.pagination import positive_id
from streams.ansi import strip_ansi
from streams.events import Lines, parse_after, sse_text
from streams.tail import iter_chunks
from streams.viewer import Viewer

from .access import job_for_user
from .models import JobLog, LogStream
from .source import JobSource

SEARCH_MAX_CHARS = 200
SEARCH_MAX_MATCHES = 1000  # more are reported as "truncated": the page counts "1000+"
LINES_WINDOW = 5000  # rows one /lines request returns at most


def _text_line(row, timestamps):
    """One stored row as a line of the plain log: stdout bare, other streams tagged, no colour codes."""
    text = strip_ansi(row["line"])
    if row["stream"] != LogStream.STDOUT:
        text = f"[{row['stream']}] {text}"
    if timestamps:
        at = datetime.fromisoformat(row["at"])
        text = f"{at:%Y-%m-%dT%H:%M:%S}.{at.microsecond // 1000:03d}Z {text}"
    return text + "\n"


def _flag(request, name):
    return request.GET.get(name) in ("1", "true", "yes", "on")


@require_GET
@login_required
def job_log_txt(request, job_id):
    """The plain log. `?timestamps=1`: each line starts with when it was stored (UTC).

    `?follow=1`: the text keeps coming until the job ends, for `curl -N` (and a browser
    tab); otherwise it is the log as stored now, as a download.
    """
    job = job_for_user(request.user, job_id)
    release_connections()  # the stream reads through the tail's threads, however long it runs
    source = JobSource(job.id)
    timestamps = _flag(request, "timestamps")

    async def stored():
        # Read in seq-ordered chunks: a million-line log costs no more memory than a short one.
        async for rows in iter_chunks(source):
            yield "".join(_text_line(row, timestamps) for row in rows)

    async def followed():
        async for event in Viewer(source):
            if isinstance(event, Lines):
                yield "".join(_text_line(row, timestamps) for row in event.rows)

    following = _flag(request, "follow")
    content = stored()
    if following:
        # Followed, it may stay open for as long as the job runs: one of the user's live slots.
        content = socket_budget.hold_stream(request.user, followed())
        if content is None:
            return _too_many()
    response = StreamingHttpResponse(content, content_type="text/plain; charset=utf-8")
    if following:
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each line on as it comes
    else:
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
    finally:
        # The request's thread holds no connection while the events stream (the tail reads).
        await sync_to_async(release_connections)()
    try:
        # EventSource sends Last-Event-ID on reconnect; it wins over ?after=.
        after = parse_after(request.headers.get("Last-Event-ID") or request.GET.get("after"))
    except ValueError as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    content = socket_budget.hold_stream(user, sse_text(Viewer(JobSource(job.id), after)))
    if content is None:
        return _too_many()
    response = StreamingHttpResponse(content, content_type="text/event-stream; charset=utf-8")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # nginx: do not buffer the stream
    return response


def _too_many():
    """429 for a stream over the user's cap: EventSource gives up on it instead of retrying at once."""
    response = HttpResponse(socket_budget.too_many_text(), status=429, content_type="text/plain")
    response["Retry-After"] = str(socket_budget.RETRY_SECONDS)
    return response


@require_GET
@login_required
def job_search(request, job_id):
    """{"matches": [seq, ...], "truncated": bool}: lines containing q, any case, in seq order (DESIGN.md §3).

    One pass over the job's rows in seq order on the (job, seq) index, stopping at
    the first SEARCH_MAX_MATCHES + 1 matches. Case folding is the database's:
    SQLite's LIKE folds ASCII letters only.
    """
    job = job_for_user(request.user, job_id)
    query = request.GET.get("q", "")
    if not query or len(query) > SEARCH_MAX_CHARS:
        return JsonResponse({"error": f"q must be 1 to {SEARCH_MAX_CHARS} characters."}, status=400)
    query = query.replace("\x00", "\ufffd")  # as the sink stores it
    seqs = list(
        JobLog.objects.filter(job_id=job.id, line__icontains=query)
        .order_by("seq")
        .values_list("seq", flat=True)[: SEARCH_MAX_MATCHES + 1]
    )
    return JsonResponse({"matches": seqs[:SEARCH_MAX_MATCHES], "truncated": len(seqs) > SEARCH_MAX_MATCHES})


@require_GET
@login_required
def job_lines(request, job_id):
    """{"lines": [...]}: the rows with after < seq < before (at most LINES_WINDOW, the first ones).

    The job page loads the lines a permalink or a search match points at this way
    when they are older than the window it opened on.
    """
    job = job_for_user(request.user, job_id)
    try:
        after = parse_after(request.GET.get("after"))
    except ValueError as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    before = positive_id(request.GET.get("before"))
    limit = LINES_WINDOW if before is None else max(0, min(LINES_WINDOW, before - after - 1))
    rows = JobSource(job.id).read_lines(after, limit) if limit else []
    return JsonResponse({"lines": rows})
