"""Retry SQLite's transient "database is locked" instead of failing the work."""

import logging
import time

from django.db import OperationalError

log = logging.getLogger(__name__)


def retry_locked(fn, attempts=20, delay=0.05):
    for attempt in range(attempts):
        try:
            return fn()
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            log.warning("database is locked, retrying (%s)", attempt + 1)
            time.sleep(min(1.0, delay * 2**attempt))
