from django.contrib import admin, messages

from .models import CancelOutcome, Job


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
        outcomes = [job.request_cancel(request.user) for job in queryset]
        for outcome in CancelOutcome:
            count = outcomes.count(outcome)
            if count:
                level = messages.WARNING if outcome == CancelOutcome.FINISHED else messages.INFO
                self.message_user(request, f"{count} job(s): {outcome.label}", level)
