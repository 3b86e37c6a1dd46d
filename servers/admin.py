from django.contrib import admin

from .models import Server


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "port", "map", "max_players", "desired_state", "actual_state")
    list_filter = ("desired_state", "actual_state")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner",)
    readonly_fields = ("desired_state", "actual_state", "actual_state_checked_at", "created_at", "updated_at")
    fields = ("owner", "name", "port", "map", "max_players") + readonly_fields
