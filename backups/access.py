"""Who may see a backup and act on it: whoever may see its server (servers.access), each action
asking for its own permission; outsiders get 404, so a backup's existence is not leaked."""

from django.http import Http404

from servers.access import require, server_for_user

from .models import Backup


def backup_for_user(user, backup_id, perm="backups.read", server_id=None):
    """The backup (of server `server_id`, if given), if `user` may see its server (else 404)
    and holds `perm` there (else 403)."""
    if not user.is_authenticated:
        raise Http404("No such backup.")
    rows = Backup.objects.select_related("server", "server__owner", "job")
    if server_id is not None:
        rows = rows.filter(server_id=server_id)
    try:
        backup = rows.get(pk=backup_id)
    except Backup.DoesNotExist:
        raise Http404("No such backup.") from None
    server_for_user(user, backup.server_id, "server.read")  # 404 for outsiders, before any 403
    require(user, backup.server, perm)
    return backup
