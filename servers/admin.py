from django.contrib import admin

from .models import Node, Server


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "last_heartbeat", "online")
    readonly_fields = ("last_heartbeat",)

    @admin.display(boolean=True)
    def online(self, node):
        return node.is_online


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "node", "port", "map", "max_players", "desired_state", "actual_state")
    list_filter = ("node", "desired_state", "actual_state")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner", "node")
    readonly_fields = ("desired_state", "actual_state", "actual_state_checked_at", "created_at", "updated_at")
    fields = ("owner", "node", "name", "port", "map", "max_players") + readonly_fields
