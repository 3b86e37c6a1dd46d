from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from jobs.models import Job, JobKind
from jobs.pagination import keyset_page

from .access import server_for_user
from .models import Server

RECENT_JOBS = 10


@require_GET
@login_required
def server_list(request):
    servers = Server.objects.visible_to(request.user).select_related("owner", "node")
    return render(request, "servers/list.html", {"servers": servers})


@require_GET
@login_required
def server_detail(request, server_id):
    server = server_for_user(request.user, server_id)
    jobs = server.jobs.for_table()[:RECENT_JOBS]
    return render(
        request,
        "servers/detail.html",
        {"server": server, "jobs": jobs, "kinds": JobKind.choices},
    )


@require_http_methods(["GET", "POST"])
@login_required
def server_jobs(request, server_id):
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
    job = Job.enqueue(server, kind, request.user)
    messages.success(request, f"{JobKind(kind).label} of {server.name} queued as job #{job.id}.")
    return redirect(job)
