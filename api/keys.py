"""Who an API key is: the key's user narrowed to the key, or why the key is refused."""

from datetime import timedelta

from django.utils import timezone

from servers.access import act_as_key

from .models import LOOKUP_CHARS, PREFIX, ApiKey

USE_RECORDED_EVERY = timedelta(
    minutes=1
)  # last use is written at most this often (one write per key a minute)


class KeyRefused(Exception):
    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def user_for_key(secret, ip):
    """The user as the key may act (servers.access.act_as_key); KeyRefused(401/403) otherwise."""
    if not isinstance(secret, str) or not secret.startswith(PREFIX) or len(secret) > 100:
        raise KeyRefused(401, "Not a valid API key.")
    key = ApiKey.objects.select_related("user").filter(lookup=secret[:LOOKUP_CHARS]).first()
    if key is None or not key.matches(secret) or key.revoked_at is not None or not key.user.is_active:
        raise KeyRefused(401, "Not a valid API key.")
    if key.expired:
        raise KeyRefused(401, "This API key has expired: create a new one.")
    if not key.allows_address(ip):
        raise KeyRefused(403, f"This API key may not be used from {ip}.")
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at >= USE_RECORDED_EVERY or key.last_used_ip != ip:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    return act_as_key(key.user, key)
