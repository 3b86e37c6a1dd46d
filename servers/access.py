"""Who may do what with a server: the one permission check (DESIGN.md §11).

Owner and staff hold every permission; a member holds the ones ticked for them (and
always `server.read`); anyone else may not know the server exists (404). A member
without the permission a page or stream needs is refused with a reason (403; a
WebSocket closes 4403). Every HTTP view, SSE stream, WebSocket consumer, form, admin
action and API endpoint asks here.
"""

from channels.db import DatabaseSyncToAsync
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404

from . import permissions
from .models import Server, ServerMember


class Forbidden(PermissionDenied):
    """A member without the permission: 403 with the reason (PermissionDenied's page shows it)."""

    def __init__(self, name):
        super().__init__(permissions.reason(name))
        self.permission = name


def visible_or_404(queryset, user, pk, message):
    """`queryset.visible_to(user).get(pk=pk)`; Http404(message) for anonymous users and outsiders."""
    if not user.is_authenticated:
        raise Http404(message)
    try:
        return queryset.visible_to(user).get(pk=pk)
    except queryset.model.DoesNotExist:
        raise Http404(message) from None


def permissions_of(user, server):
    """The permission names `user` holds on `server` (empty: none, not even to see it).

    Kept on the user object (one per request or WebSocket handshake), so a page that asks
    about several buttons, or a table of one server's jobs, costs at most one query.
    """
    cache = user.__dict__.setdefault("_server_perms", {})
    if server.pk in cache:
        return cache[server.pk]
    if not user.is_authenticated:
        held = frozenset()
    elif user.is_staff or server.owner_id == user.pk:
        held = permissions.ALL
    else:
        names = ServerMember.objects.filter(server=server, user=user).values_list("permissions", flat=True)
        names = names.first()
        held = frozenset() if names is None else frozenset(permissions.clean(names))
    cache[server.pk] = held
    return held


def forget_permissions(user):
    """Forget what `user` was found to hold. A WebSocket keeps its user object for as long as it
    is open: whoever asks again later (a revoked member's stream, a command sent over it) must
    see the permissions of now, not those of the handshake."""
    user.__dict__.pop("_server_perms", None)


def has_perm(user, server, name):
    return name in permissions_of(user, server)


def require(user, server, name):
    """Forbidden (403 with the reason) unless `user` holds `name` on `server`."""
    if not has_perm(user, server, name):
        raise Forbidden(name)


def server_for_user(user, server_id, perm="server.read"):
    """The server, if `user` may see it (else 404) and holds `perm` on it (else 403)."""
    server = visible_or_404(
        Server.objects.select_related("owner", "node"), user, server_id, "No such server."
    )
    require(user, server, perm)
    return server


def servers_with_perm(user, name):
    """The servers on which `user` holds `name`: theirs, and those they are a member of with it."""
    if user.is_staff:
        return Server.objects.all()
    members = ServerMember.objects.filter(user=user).values_list("server_id", "permissions")
    granted = [server_id for server_id, names in members if name in permissions.clean(names)]
    return Server.objects.filter(Q(owner=user) | Q(pk__in=granted))


def may(user, server_id, perm):
    """Whether `user` holds `perm` on the server with this id: for streams that check again
    (a revoked member's open socket). False for a server gone or never visible."""
    forget_permissions(user)
    try:
        server_for_user(user, server_id, perm)
    except (Http404, PermissionDenied):
        return False
    return True


# For WebSocket handshakes: in the thread pool, so a crowd opening a server's pages checks
# in parallel instead of queueing for Django's one thread-sensitive thread.
aserver_for_user = DatabaseSyncToAsync(server_for_user, thread_sensitive=False)
amay = DatabaseSyncToAsync(may, thread_sensitive=False)
