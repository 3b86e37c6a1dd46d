from django.contrib import admin

from .models import Delivery, DeliveryAttempt, Schedule, ScheduleRun, ServerUpdate, UpdateCheck, Webhook


class ScheduleRunInline(admin.TabularInline):
    model = ScheduleRun
    extra = 0
    can_delete = False
    fields = ("started_at", "due_at", "action", "outcome", "job")
    readonly_fields = fields
    ordering = ("-id",)

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "server",
        "action",
        "cron",
        "timezone",
        "enabled",
        "next_run_at",
        "last_run_at",
    )
    list_filter = ("enabled", "action")
    search_fields = ("name", "server__name", "command")
    list_select_related = ("server",)
    readonly_fields = ("next_run_at", "last_run_at", "created_by", "created_at")
    inlines = [ScheduleRunInline]

    def save_model(self, request, obj, form, change):
        # Like the schedules page: the next run follows the (new) expression from now.
        if not change:
            obj.created_by = request.user
        obj.reschedule()
        super().save_model(request, obj, form, change)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    readonly_fields = ("number", "at", "status_code", "error", "duration_ms")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ("__str__", "owner", "server", "enabled", "created_at")
    list_filter = ("enabled",)
    search_fields = ("name", "url", "owner__username", "server__name")
    list_select_related = ("owner", "server")


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "webhook",
        "event",
        "state",
        "attempts",
        "created_at",
        "next_attempt_at",
        "finished_at",
    )
    list_filter = ("state", "event")
    list_select_related = ("webhook",)
    readonly_fields = [f.name for f in Delivery._meta.fields]
    inlines = [DeliveryAttemptInline]

    def has_add_permission(self, request):
        return False


@admin.register(UpdateCheck)
class UpdateCheckAdmin(admin.ModelAdmin):
    list_display = ("__str__", "checked_at", "latest_build", "error")
    readonly_fields = ("node_name", "checked_at", "latest_build", "error")

    def has_add_permission(self, request):
        return False


@admin.register(ServerUpdate)
class ServerUpdateAdmin(admin.ModelAdmin):
    list_display = ("server", "notified_build", "applied_build")
    list_select_related = ("server",)
