from django.contrib import admin

from .models import ConsoleCommand, Node, Server, ServerCrash, ServerMember


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened (crashes, commands, workers): shown, never added or edited here."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Node)
class NodeAdmin(admin.ModelAdmin):
    list_display = ("name", "address", "last_heartbeat", "online")
    readonly_fields = ("last_heartbeat",)

    @admin.display(boolean=True)
    def online(self, node):
        return node.is_online


class MemberInline(admin.TabularInline):
    """Staff hold every permission, so they may grant any (servers/permissions.py has the names)."""

    model = ServerMember
    fk_name = "server"
    fields = ("user", "permissions", "created_at")
    readonly_fields = ("created_at",)
    autocomplete_fields = ("user",)
    extra = 0


@admin.register(Server)
class ServerAdmin(admin.ModelAdmin):
    inlines = [MemberInline]
    list_display = (
        "name",
        "owner",
        "node",
        "port",
        "map",
        "max_players",
        "desired_state",
        "actual_state",
        "auto_restart",
    )
    list_filter = ("node", "desired_state", "actual_state", "auto_restart")
    search_fields = ("name", "owner__username")
    list_select_related = ("owner", "node")
    readonly_fields = (
        "desired_state",
        "actual_state",
        "actual_state_checked_at",
        "autorestart_paused_at",
        "created_at",
        "updated_at",
    )
    fields = ("owner", "node", "name", "port", "map", "max_players", "auto_restart") + readonly_fields


@admin.register(ServerCrash)
class ServerCrashAdmin(ReadOnlyAdmin):
    """What the supervisor recorded; read-only: a crash is a fact, not a setting."""

    list_display = ("at", "server", "reason", "exit_status", "action")
    list_filter = ("reason", "action")
    search_fields = ("server__name",)
    list_select_related = ("server",)
    readonly_fields = ("server", "at", "reason", "detail", "exit_status", "last_lines", "action")


@admin.register(ConsoleCommand)
class ConsoleCommandAdmin(ReadOnlyAdmin):
    """The audit trail of console commands: who sent what to which server, and what became of it."""

    list_display = ("created_at", "server", "user", "text", "outcome", "delivered_at")
    list_filter = ("outcome", "kind")
    search_fields = ("text", "user__username", "server__name")
    list_select_related = ("server", "user")
    date_hierarchy = "created_at"
    readonly_fields = ("server", "user", "kind", "text", "created_at", "delivered_at", "outcome")

    def has_delete_permission(self, request, obj=None):
        return False
