"""API keys (DESIGN.md §12): scoped to some of their user's permissions and servers, stored hashed."""

import hashlib
import hmac
import ipaddress
import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone

PREFIX = "l4d2_"  # so secret scanners can find a leaked key
LOOKUP_CHARS = 13  # "l4d2_" and 8 random characters: the indexed part, shown in lists


def digest(secret):
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKeyQuerySet(models.QuerySet):
    def live(self):
        return self.filter(revoked_at__isnull=True)


class ApiKey(models.Model):
    """A key is its user, narrowed: it holds at most `permissions`, on `servers` (empty: all of
    the user's), and never more than the user holds at the moment it is used."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=64)
    lookup = models.CharField(max_length=LOOKUP_CHARS, unique=True, editable=False)
    # sha256 of the whole key: a key is 240 random bits, so a fast hash is safe (as GitHub's).
    key_digest = models.CharField(max_length=64, editable=False)
    permissions = models.JSONField(default=list)
    servers = models.ManyToManyField("servers.Server", blank=True, related_name="+")
    expires_at = models.DateTimeField(null=True, blank=True)
    allowed_ips = models.JSONField(
        default=list, blank=True, help_text="Addresses or networks (CIDR); empty: any."
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "API key"

    def __str__(self):
        return f"{self.name} ({self.lookup}…) of {self.user}"

    @classmethod
    def new(cls, user, name, permissions, servers=(), expires_at=None, allowed_ips=()):
        """A key and its secret (shown once: only a digest is kept)."""
        secret = PREFIX + secrets.token_urlsafe(30)
        key = cls.objects.create(
            user=user,
            name=name,
            lookup=secret[:LOOKUP_CHARS],
            key_digest=digest(secret),
            permissions=sorted(permissions),
            expires_at=expires_at,
            allowed_ips=list(allowed_ips),
        )
        key.servers.set(servers)
        return key, secret

    def matches(self, secret):
        return hmac.compare_digest(self.key_digest, digest(secret))

    @property
    def expired(self):
        return self.expires_at is not None and self.expires_at <= timezone.now()

    def allows_address(self, ip):
        if not self.allowed_ips:
            return True
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(net, strict=False) for net in self.allowed_ips)
