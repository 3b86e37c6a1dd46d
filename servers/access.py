"""Who may do what with a server: the one permission check (DESIGN.md §11).

Owner and staff hold every permission; a member holds the ones ticked for them (and
always `server.read`); anyone else may not know the server exists (404). A member
without the permission a page or stream needs is refused with a reason (403; a
WebSocket closes 4403). Every HTTP view, SSE stream, WebSocket consumer, form, admin
action and API endpoint asks here.
"""

from channels.db import DatabaseSyncToAsync
from django.core.exceptions import PermissionDenied
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
    scope = getattr(user, "key_servers", None)  # an API key limited to some servers
    if not user.is_authenticated or (scope is not None and server.pk not in scope):
        held = frozenset()
    elif user.is_staff or server.owner_id == user.pk:
        held = permissions.ALL
    else:
        names = ServerMember.objects.filter(server=server, user=user).values_list("permissions", flat=True)
        names = names.first()
        held = frozenset() if names is None else frozenset(permissions.clean(names))
    limit = getattr(user, "key_permissions", None)  # an API key holds at most its own
    if limit is not None:
        held &= limit
    cache[server.pk] = held
    return held


def act_as_key(user, key):
    """`user` narrowed to what API key `key` may do: at most its permissions (`server.read`
    always), on its servers only (none listed: all of the user's). A key never exceeds its
    user: every check still asks the user's own permissions of the moment."""
    user.key_permissions = frozenset(permissions.clean(key.permissions))
    user.key_servers = list(key.servers.values_list("pk", flat=True)) or None
    user.api_key = key
    forget(user)
    return user


def has_perm(user, server, name):
    return name in permissions_of(user, server)


def require(user, server, name):
    """Forbidden (403 with the reason) unless `user` holds `name` on `server`."""
    if not has_perm(user, server, name):
        raise Forbidden(name)


SERVER_BY_ID = f"SELECT * FROM {Server._meta.db_table} WHERE id = %s"


def server_for_user(user, server_id, perm="server.read", missing="No such server."):
    """The server, if `user` may see it (else 404) and holds `perm` on it (else 403).

    Read by its key, then checked: whoever may see it holds `server.read` on it, and that
    check costs no query for its owner or staff (a membership look-up otherwise, which the
    page asks anyway). Filtering by `visible_to` cost the server page 0.3 ms of SQL building;
    and the read is a statement of its own (`raw`): Django building a `get()` with its owner and
    node joined was another 0.3 of the page's 5 ms, where the statement costs 0.15. Its owner
    and node are read when a page shows them (a server on no node has none to read).
    `missing` is the 404's text: a job's page says "No such job." for a server it may not see.
    """
    server = next(iter(Server.objects.raw(SERVER_BY_ID, [server_id])), None)
    if server is None or not permissions_of(user, server):
        raise Http404(missing)
    require(user, server, perm)
    return server


def servers_with_perm(user, name):
    """The servers on which `user` (or the API key acting for them) holds `name`."""
    held = [server.pk for server in Server.objects.visible_to(user) if has_perm(user, server, name)]
    return Server.objects.filter(pk__in=held)


def key_allows(user, name, server_id=None):
    """Whether an API key acting for `user` (if any) may use `name`, on that server if given:
    for things of the user's own that no server check covers (their webhooks)."""
    limit = getattr(user, "key_permissions", None)
    scope = getattr(user, "key_servers", None)
    if limit is not None and name not in limit:
        return False
    return scope is None or server_id in scope


def forget(user):
    """Drop what permissions_of remembered on this user object: a long-lived one (a
    WebSocket's) must see a permission revoked since it asked."""
    user.__dict__.pop("_server_perms", None)


def may(user, server_id, perm):
    """Whether `user` holds `perm` on the server with this id, asked anew: for streams that
    check again (a revoked member's open socket). False for a server gone or never visible."""
    forget(user)
    try:
        server_for_user(user, server_id, perm)
    except (Http404, PermissionDenied):
        return False
    return True


# For WebSocket handshakes: in the thread pool, so a crowd opening a server's pages checks
# in parallel instead of queueing for Django's one thread-sensitive thread.
aserver_for_user = DatabaseSyncToAsync(server_for_user, thread_sensitive=False)
amay = DatabaseSyncToAsync(may, thread_sensitive=False)
