"""Jobs in the Django admin: registered for its bulk actions; every page of it leads to the panel's own.

Staff have one "all jobs" page, /admin/jobs (the shared job table): the changelist
redirects there (keeping its filters), a job's change page to the job page. The
changelist still takes the POST of the bulk actions, which /admin/jobs offers
("Cancel selected jobs", "Finish stuck jobs...").
"""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.shortcuts import redirect

from l4d2site.pagination import positive_id

from .admin_views import CHANGELIST_FILTERS, job_filters
from .models import ACTIVE_STATES, CancelOutcome, Job, WorkerProcess


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ("id", "server", "kind", "state", "requested_by", "created_at", "finished_at", "exit_code")
    list_filter = ("state", "kind", "trigger", "server")
    list_select_related = ("server", "requested_by")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel_selected", "finish_stuck"]

    def has_add_permission(self, request):
        return False  # jobs are enqueued from server pages, where the rules live

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        if request.method == "POST":
            return super().changelist_view(request, extra_context)  # the bulk action
        params = {name: request.GET.get(key, "") for key, name in CHANGELIST_FILTERS.items()}
        query = urlencode(job_filters(params))
        return redirect("/admin/jobs" + (f"?{query}" if query else ""))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        job_id = positive_id(object_id)
        if job_id:
            return redirect("jobs:detail", job_id=job_id)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description="Cancel selected jobs")
    def cancel_selected(self, request, queryset):
        outcomes = [job.request_cancel(request.user, request=request) for job in queryset]
        for outcome in CancelOutcome:
            count = outcomes.count(outcome)
            if count:
                level = messages.WARNING if outcome == CancelOutcome.FINISHED else messages.INFO
                self.message_user(request, f"{count} job(s): {outcome.label}", level)

    @admin.action(description="Finish stuck jobs whose worker is gone (failed, or cancelled if asked)")
    def finish_stuck(self, request, queryset):
        alive = set(WorkerProcess.objects.alive().values_list("identity", flat=True))
        finished = skipped = 0
        for job in queryset.filter(state__in=ACTIVE_STATES).select_related("server"):
            if job.claimed_by in alive:
                skipped += 1  # its worker still heartbeats: Cancel is the way to stop it
                continue
            who = request.user.get_username()
            finished += job.abandon(f"Its worker is gone; marked {{state}} by {who} from the admin.")
        if finished:
            self.message_user(request, f"{finished} stuck job(s) finished.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} job(s) left alone: their worker is alive; use Cancel.", messages.WARNING
            )


@admin.register(WorkerProcess)
class WorkerProcessAdmin(admin.ModelAdmin):
    """Every worker process and its heartbeat: which one runs what, and which went silent."""

    list_display = ("identity", "node_name", "host", "started_at", "last_heartbeat", "alive")
    readonly_fields = [f.name for f in WorkerProcess._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(boolean=True)
    def alive(self, worker):
        return worker.is_alive
