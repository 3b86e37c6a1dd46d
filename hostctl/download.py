"""HTTP downloads for the game host: small texts, and files with progress lines and Cancel.

A file is streamed to `<dest>.part` beside its destination and renamed into place once it
is complete, so a cancelled or failed download never leaves a partial file behind.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

from hostctl.errors import HostError
from hostctl.process import PROGRESS, CancelToken, LineSink

TIMEOUT = 30  # seconds a connection or a read may stall before the download fails
CHUNK = 64 * 1024
SAY_EVERY = 1.0  # seconds between progress lines in the log
USER_AGENT = "l4d2-panel"


def _open(url: str):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 (http/https from settings)
    except urllib.error.HTTPError as exc:
        raise HostError(f"{url} answered HTTP {exc.code} ({exc.reason})") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise HostError(f"{url} could not be reached: {reason}") from None


def fetch_text(url: str, *, limit: int = 4096) -> str:
    """The body of `url` as text (at most `limit` bytes): a "latest" pointer, say."""
    with _open(url) as response:
        body = response.read(limit + 1)
    if len(body) > limit:
        raise HostError(f"{url} answered more than {limit} bytes where a short text was expected")
    return body.decode("utf-8", errors="replace")


def fetch_file(
    url: str,
    dest: Path,
    sink: LineSink,
    cancel: CancelToken | None = None,
    *,
    max_bytes: int,
    progress=(0, 100),
) -> str:
    """Download `url` to `dest`; the sha256 of what arrived.

    Says how far it is every SAY_EVERY seconds, and moves the job's progress from
    `progress[0]` to `progress[1]` as the bytes come. Cancel is looked at after every
    chunk; a cancel or an error removes the partial file and raises HostError.
    """
    part = dest.with_name(dest.name + ".part")
    digest = hashlib.sha256()
    name = dest.name
    low, high = progress
    try:
        with _open(url) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0) or None
            if total and total > max_bytes:
                raise HostError(f"{name} is {_mb(total)}, more than the {_mb(max_bytes)} allowed")
            sink("system", f"Downloading {name} ({_mb(total) if total else 'size unknown'}) from {url}")
            done, said = 0, time.monotonic()
            while True:
                if cancel is not None and cancel.cancelled:
                    raise HostError(f"Cancelled: the partial download of {name} was removed.")
                try:
                    chunk = response.read(CHUNK)
                except OSError as exc:
                    raise HostError(f"Downloading {name} failed: {exc}") from None
                if not chunk:
                    break
                done += len(chunk)
                if done > max_bytes:
                    raise HostError(f"{name} is more than the {_mb(max_bytes)} allowed")
                digest.update(chunk)
                out.write(chunk)
                if time.monotonic() - said >= SAY_EVERY:
                    said = time.monotonic()
                    sink("stdout", _progress_line(name, done, total))
                    if total:
                        sink(PROGRESS, str(low + (high - low) * done // total))
            if total and done != total:
                raise HostError(f"{name} ended after {done} of {total} bytes: the download was cut short")
            sink("stdout", _progress_line(name, done, total or done))
            sink(PROGRESS, str(high))
        os.replace(part, dest)
    finally:
        part.unlink(missing_ok=True)
    return digest.hexdigest()


def _progress_line(name: str, done: int, total: int | None) -> str:
    if not total:
        return f"{name}: {_mb(done)}"
    return f"{name}: {_mb(done)} of {_mb(total)} ({100 * done // total}%)"


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"
