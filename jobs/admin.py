from django.contrib import admin, messages
from django.shortcuts import render

from servers.models import Server

from .models import CancelOutcome, Job, JobKind, JobState, request_cancel
from .pagination import keyset_page


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "server",
        "node",
        "kind",
        "state",
        "requested_by",
        "created_at",
        "finished_at",
        "exit_code",
    )
    list_filter = ("state", "kind", "server")
    list_select_related = ("server", "server__node", "requested_by")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel_selected"]

    def has_add_permission(self, request):
        return False  # jobs are enqueued from server pages, where the rules live

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="Node")
    def node(self, job):
        return job.server.node or "panel host"

    @admin.action(description="Cancel selected jobs")
    def cancel_selected(self, request, queryset):
        outcomes = [request_cancel(job_id, request.user) for job_id in queryset.values_list("id", flat=True)]
        for outcome in CancelOutcome:
            count = outcomes.count(outcome)
            if count:
                level = messages.WARNING if outcome == CancelOutcome.FINISHED else messages.INFO
                self.message_user(request, f"{count} job(s): {outcome.label}", level)


def admin_jobs_view(request):
    """/admin/jobs: every job in the shared job table, filterable, newest first."""
    jobs = Job.objects.for_table()
    filters = {
        "state": (JobState.choices, request.GET.get("state", "")),
        "kind": (JobKind.choices, request.GET.get("kind", "")),
    }
    for field, (choices, value) in filters.items():
        if value in dict(choices):
            jobs = jobs.filter(**{field: value})
    server_id = request.GET.get("server", "")
    if server_id.isdigit():
        jobs = jobs.filter(server_id=int(server_id))
    context = {
        **admin.site.each_context(request),
        "title": "Jobs",
        "page": keyset_page(jobs, request.GET),
        "states": JobState.choices,
        "kinds": JobKind.choices,
        "servers": Server.objects.only("id", "name").order_by("name"),
        "selected": {"state": filters["state"][1], "kind": filters["kind"][1], "server": server_id},
    }
    return render(request, "admin/jobs.html", context)
