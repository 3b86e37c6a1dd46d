from django.contrib import admin

from . import words
from .models import Event


class ActionFilter(admin.SimpleListFilter):
    """By action, or all of a group ("job."): choices from the words table, so no
    SELECT DISTINCT over the whole log on every page."""

    title = "action"
    parameter_name = "action"

    def lookups(self, request, model_admin):
        return [choice for _, group in words.choices() for choice in group]

    def queryset(self, request, queryset):
        value = self.value()
        if not value:
            return queryset
        if value.endswith("."):
            return queryset.filter(action__startswith=value)
        return queryset.filter(action=value)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    """The activity log for staff: read-only, an event is a record of what happened."""

    list_display = ("at", "action", "actor", "via", "api_key", "ip", "server_label", "detail")
    list_filter = (ActionFilter, "via", "server")
    # The server by its name now, or by the name kept on the event once it is deleted.
    search_fields = ("actor__username", "server__name", "detail__server_name")
    list_select_related = ("actor", "server", "api_key__user")
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
