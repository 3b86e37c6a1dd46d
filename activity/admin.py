from django.contrib import admin

from .models import Event


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The activity log for staff: read-only, an event is a record of what happened."""

    list_display = ("at", "action", "actor", "via", "ip", "server_label", "detail")
    list_filter = ("action", "via")
    search_fields = ("actor__username",)
    list_select_related = ("actor", "server")
    show_full_result_count = False  # no COUNT(*) over the whole log on every page

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description="server")
    def server_label(self, event):
        if event.server is not None:
            return event.server
        name = event.detail.get("server_name")
        return f"{name} (deleted)" if name else "-"
