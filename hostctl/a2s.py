"""A2S queries (python-a2s) against a server on this host."""

from __future__ import annotations

import a2s


def query_info(port: int, timeout: float = 1.0) -> a2s.SourceInfo | None:
    """A2S_INFO from 127.0.0.1:`port`, or None if nothing answers in time."""
    try:
        return a2s.info(("127.0.0.1", port), timeout=timeout)
    except (TimeoutError, OSError, a2s.BrokenMessageError, a2s.BufferExhaustedError):
        return None
