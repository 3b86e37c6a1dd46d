"""L4D2_API_RATE_PER_MINUTE requests per key and minute, counted in the cache every web process
shares (Redis when REDIS_URL is set; without Redis, the process's memory: per web process)."""

import time

from django.conf import settings
from django.core.cache import cache


class RateLimited(Exception):
    def __init__(self, retry_after):
        super().__init__(f"Too many requests for this key: at most {settings.API_RATE_PER_MINUTE} a minute.")
        self.retry_after = retry_after


def check(key):
    """Count one request of `key` in this minute's window; RateLimited once over the limit."""
    now = time.time()
    window = int(now // 60)
    # By the key's random lookup, not its row id: ids come back after a database is
    # recreated, and two panels may share one Redis.
    name = f"api-rate:{key.lookup}:{window}"
    cache.add(name, 0, timeout=120)  # atomic where the cache is (Redis: SET NX; memory: a lock)
    try:
        count = cache.incr(name)
    except ValueError:  # expired between add and incr: this request opens the window again
        cache.add(name, 1, timeout=120)
        count = 1
    if count > settings.API_RATE_PER_MINUTE:
        raise RateLimited(retry_after=max(1, int((window + 1) * 60 - now) + 1))
