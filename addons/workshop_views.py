"""The Workshop section's buttons on the addons page: add items, update all, remove one."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from jobs.models.job import QueueFull
from servers.access import server_for_user

from . import workshop


def _done(request, server, job, what):
    if job is None:
        messages.info(request, "There are no installed Workshop items to update.")
        return redirect("addons:page", server_id=server.id)
    if job.duplicate:
        messages.info(request, f"{what} is already queued as job #{job.id}.")
    else:
        messages.success(request, f"{what}: job #{job.id} queued.")
    return redirect(job.get_absolute_url())


def _refused(request, server, reason, status):
    return render(request, "error.html", {"title": "Not possible", "message": reason}, status=status)


@require_POST
@login_required
def add(request, server_id):
    server = server_for_user(request.user, server_id, "addons.update")
    items = request.POST.get("items", "").split()
    collection = request.POST.get("collection") or None
    try:
        job = workshop.add(server, request.user, items, collection, request=request)
    except workshop.Refused as refused:
        return _refused(request, server, refused.reason, refused.status)
    except QueueFull as full:
        return _refused(request, server, str(full), 429)
    return _done(request, server, job, "Downloading the Workshop items")


@require_POST
@login_required
def update_all(request, server_id):
    server = server_for_user(request.user, server_id, "addons.update")
    try:
        job = workshop.update_all(server, request.user, request=request)
    except workshop.Refused as refused:
        return _refused(request, server, refused.reason, refused.status)
    except QueueFull as full:
        return _refused(request, server, str(full), 429)
    return _done(request, server, job, "Updating the Workshop items")


@require_POST
@login_required
def remove(request, server_id, item_id):
    server = server_for_user(request.user, server_id, "addons.update")
    try:
        job = workshop.remove(server, request.user, item_id, request=request)
    except workshop.Refused as refused:
        return _refused(request, server, refused.reason, refused.status)
    except QueueFull as full:
        return _refused(request, server, str(full), 429)
    return _done(request, server, job, f"Removing Workshop item {item_id}")
