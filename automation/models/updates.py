"""What update detection remembers: each host's last steamcmd check, and what was done per server."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from l4d2site.db import retry_locked
from servers.models import Server


class UpdateCheck(models.Model):
    """A game host's last look at the latest build (steamcmd app info).

    Keyed by node name ("" for the panel host), not by a Node row: a plain `runworker`
    has none. Several workers of one host share the row, and `claim` lets one of them
    ask steamcmd per interval.
    """

    node_name = models.CharField(max_length=64, unique=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)
    latest_build = models.CharField(max_length=32, blank=True, default="")
    error = models.TextField(blank=True, default="", help_text="Why the last check failed, if it did.")

    class Meta:
        ordering = ["node_name"]

    def __str__(self):
        return self.node_name or "panel host"

    @classmethod
    @retry_locked
    def claim(cls, node_name, *, checked_before):
        """True for the one caller that may check now: the last check started before `checked_before`.

        A conditional update: of several workers of a host calling at once, one wins.
        """
        row, _ = cls.objects.get_or_create(node_name=node_name)
        stale = Q(checked_at__isnull=True) | Q(checked_at__lt=checked_before)
        return bool(cls.objects.filter(Q(pk=row.pk) & stale).update(checked_at=timezone.now()))


class ServerUpdate(models.Model):
    """The builds automation has already acted on for a server, so each new build is
    announced once and applied once, however many workers look."""

    server = models.OneToOneField(Server, on_delete=models.CASCADE, primary_key=True, related_name="+")
    notified_build = models.CharField(max_length=32, blank=True, default="")
    applied_build = models.CharField(max_length=32, blank=True, default="")

    def __str__(self):
        return f"server {self.server_id}: notified {self.notified_build}, applied {self.applied_build}"

    @classmethod
    @retry_locked
    def mark(cls, server_id, field, build):
        """Record that `build` was acted on (`field`: notified_build or applied_build).

        True for the one call that recorded it: several workers may look at once.
        """
        cls.objects.get_or_create(server_id=server_id)
        rows = cls.objects.filter(server_id=server_id).exclude(**{field: build})
        return bool(rows.update(**{field: build}))
