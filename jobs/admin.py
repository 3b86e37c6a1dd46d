from django.contrib import admin, messages

from .models import ACTIVE_STATES, CancelOutcome, Job, WorkerProcess


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
    list_filter = ("state", "kind", "trigger", "server")
    list_select_related = ("server", "server__node", "requested_by")
    readonly_fields = [f.name for f in Job._meta.fields]
    actions = ["cancel_selected", "finish_stuck"]

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
