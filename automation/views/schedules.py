"""A server's schedules: list, create, edit, enable/disable, delete, and each one's run history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from jobs.rules import refusal
from servers.access import has_perm, server_for_user

from .. import actions, audit
from ..access import schedule_for_user
from ..forms import ScheduleForm
from ..limits import save_checked
from ..models import Schedule, ScheduleAction, ScheduleRun
from ..validators import place_zones, validate_cron, validate_time_zone

RUNS_SHOWN = 50
PREVIEW_RUNS = 3


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
    context.update(zones=place_zones(), can_update=has_perm(request.user, server, "schedules.update"))
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
    context = {"server": server, "schedule": schedule, "form": form, "runs": runs, "zones": place_zones()}
    context["can_update"] = has_perm(request.user, server, "schedules.update")
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


@require_GET
@login_required
def schedule_preview(request, server_id):
    """JSON for the form while someone types: the expression in words and its next runs in the zone.

    `?cron=0 5 * * *&timezone=America/New_York` -> {"description", "timezone", "next": [{"at", "text"}]};
    400 {"detail"} when the expression or the zone is not valid.
    """
    server_for_user(request.user, server_id, "schedules.read")
    cron = " ".join(request.GET.get("cron", "").split())
    zone = request.GET.get("timezone", "").strip() or "UTC"
    try:
        validate_cron(cron)
        validate_time_zone(zone)
    except ValidationError as exc:
        return JsonResponse({"detail": " ".join(exc.messages)}, status=400)
    schedule = Schedule(cron=cron, timezone=zone)
    runs = [
        {"at": run.isoformat(), "text": run.strftime("%a %Y-%m-%d %H:%M %Z")}
        for run in schedule.next_runs(PREVIEW_RUNS)
    ]
    return JsonResponse({"description": schedule.description, "timezone": zone, "next": runs})


@require_POST
@login_required
def schedule_run_now(request, server_id, schedule_id):
    """Do the schedule's action once, now, as the person who asked; its slots stay as they are."""
    server, schedule = schedule_for_user(request.user, server_id, schedule_id, "schedules.update")
    if schedule.action in actions.KINDS and (why := refusal(actions.KINDS[schedule.action], server)):
        context = {"title": "Not possible now", "message": why, "back": schedule.get_absolute_url()}
        return render(request, "error.html", context, status=409)
    with transaction.atomic():
        job, outcome = actions.run(schedule, user=request.user, request=request)
        ScheduleRun.objects.create(
            schedule=schedule, job=job, due_at=timezone.now(), action=schedule.action, outcome=outcome
        )
        audit.record(schedule, "run", request, outcome=outcome)
    if job is not None and not job.duplicate:
        messages.success(request, f"Schedule “{schedule}” ran now: {outcome}")
        return redirect(job)
    messages.info(request, f"Schedule “{schedule}” ran now: {outcome}")
    if schedule.action == ScheduleAction.COMMAND:
        return redirect("servers:console", server.id)
    return redirect(schedule)
