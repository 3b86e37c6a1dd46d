"""A server's schedules: list, create, edit, enable/disable, delete, and each one's run history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from servers.access import server_for_user

from .. import audit
from ..access import schedule_for_user
from ..forms import ScheduleForm
from ..limits import save_checked

RUNS_SHOWN = 50


def _permission(request):
    return "schedules.update" if request.method == "POST" else "schedules.read"


@require_http_methods(["GET", "POST"])
@login_required
def schedule_list(request, server_id):
    server = server_for_user(request.user, server_id, _permission(request))
    form = ScheduleForm(request.POST or None)
    # Set before validation, which counts the server's schedules (an instance passed in
    # instead would replace the form's initial values with the model's defaults).
    form.instance.server, form.instance.created_by = server, request.user
    if request.method == "POST" and form.is_valid() and (schedule := save_checked(form, request=request)):
        messages.success(request, f"Schedule “{schedule}” saved ({schedule.description}).")
        return redirect("automation:schedules", server.id)
    context = {"server": server, "schedules": server.schedules.order_by("id"), "form": form}
    return render(request, "automation/schedules.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def schedule_detail(request, server_id, schedule_id):
    server, schedule = schedule_for_user(request.user, server_id, schedule_id, _permission(request))
    form = ScheduleForm(request.POST or None, instance=schedule)
    if request.method == "POST" and form.is_valid() and save_checked(form, request=request):
        messages.success(request, f"Schedule “{schedule}” saved.")
        return redirect(schedule)
    runs = schedule.runs.select_related("job").order_by("-id")[:RUNS_SHOWN]
    context = {"server": server, "schedule": schedule, "form": form, "runs": runs}
    return render(request, "automation/schedule.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def schedule_toggle(request, server_id, schedule_id):
    """Enable or disable; enabling starts from the next slot after now (no catching up)."""
    server, schedule = schedule_for_user(request.user, server_id, schedule_id, "schedules.update")
    schedule.enabled = not schedule.enabled
    schedule.reschedule()
    with transaction.atomic():
        schedule.save(update_fields=["enabled", "next_run_at"])
        audit.record(schedule, "enabled" if schedule.enabled else "disabled", request)
    messages.success(request, f"Schedule “{schedule}” {'enabled' if schedule.enabled else 'disabled'}.")
    return redirect("automation:schedules", server.id)


@require_POST
@login_required
def schedule_delete(request, server_id, schedule_id):
    server, schedule = schedule_for_user(request.user, server_id, schedule_id, "schedules.update")
    with transaction.atomic():
        audit.record(schedule, "deleted", request)
        schedule.delete()
    messages.success(request, f"Schedule “{schedule}” deleted.")
    return redirect("automation:schedules", server.id)
