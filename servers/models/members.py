"""Team access (DESIGN.md §11): a server's members and the invite links that make new ones."""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from l4d2site.db import optional_user_fk

from .. import permissions
from .server import Server

INVITE_DAYS = 7


class ServerMember(models.Model):
    """Someone other than the owner who may do some things with a server."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="members")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    permissions = models.JSONField(default=list, help_text="Permission names (DESIGN.md §11).")
    created_at = models.DateTimeField(default=timezone.now)
    created_by = optional_user_fk()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["server", "user"], name="member_once_per_server")]
        ordering = ["id"]

    def __str__(self):
        return f"{self.user} on {self.server.name}"

    def clean(self):
        """For the admin: only known names (a typo would grant nothing, silently)."""
        names = self.permissions if isinstance(self.permissions, list) else None
        unknown = sorted(set(names or ()) - permissions.ALL) if names is not None else ["(not a list)"]
        if unknown:
            raise ValidationError({"permissions": f"Unknown permission names: {', '.join(unknown)}."})
        self.permissions = permissions.clean(names)

    @property
    def role(self):
        """The preset these permissions are, by name ("Moderator"), or "Custom"."""
        held = frozenset(permissions.clean(self.permissions))
        for label, names in permissions.PRESETS.values():
            if held == frozenset(permissions.clean(names)):
                return label
        return "Custom"


def _digest(token):
    return hashlib.sha256(token.encode()).hexdigest()


class InviteQuerySet(models.QuerySet):
    def usable(self):
        return self.filter(used_at__isnull=True, expires_at__gt=timezone.now())

    def by_token(self, token):
        """The invite this token opens (used or not), or None. Only its digest is stored."""
        if not isinstance(token, str) or not token or len(token) > 100:
            return None
        return self.select_related("server").filter(token_digest=_digest(token)).first()


class Invite(models.Model):
    """A one-use link that makes whoever opens it a member, with these permissions, for 7 days."""

    server = models.ForeignKey(Server, on_delete=models.CASCADE, related_name="invites")
    token_digest = models.CharField(max_length=64, unique=True, editable=False)
    permissions = models.JSONField(default=list)
    created_by = optional_user_fk()
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = optional_user_fk()

    objects = InviteQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Invite #{self.pk} to {self.server.name}"

    @classmethod
    def create(cls, server, names, by):
        """A new invite and its token (shown once: only a digest of it is kept)."""
        token = secrets.token_urlsafe(24)
        invite = cls.objects.create(
            server=server,
            token_digest=_digest(token),
            permissions=permissions.clean(names),
            created_by=by,
            expires_at=timezone.now() + timedelta(days=INVITE_DAYS),
        )
        return invite, token

    @property
    def usable(self):
        return self.used_at is None and self.expires_at > timezone.now()
