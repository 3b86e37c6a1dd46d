"""Validators for what owners type into schedules and webhooks."""

import zoneinfo
from functools import cache
from urllib.parse import urlsplit

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from .webhooks import net

MAX_COMMAND_BYTES = 512
# Commands that stop the server behind the panel's back (the supervisor would take it
# for a crash): a schedule has the stop and restart actions for that.
USE_AN_ACTION = {"quit", "exit", "_restart", "restart", "killserver"}


def validate_cron(expression):
    """Five fields (minute hour day month weekday), as crontab(5) has them."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            "Use five fields: minute hour day-of-month month day-of-week (e.g. 0 5 * * * for 05:00 daily)."
        )
    if not croniter.is_valid(" ".join(fields)):
        raise ValidationError("That is not a valid cron expression.")


@cache
def time_zones():
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(name):
    if name not in time_zones():
        raise ValidationError(f"“{name}” is not a known time zone (use a name like Europe/Berlin or UTC).")


def validate_console_command(text):
    """One console line: no control characters, at most 512 bytes, no secret, no quit."""
    if any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in text):
        raise ValidationError("A command is one line, without control characters (line breaks, NUL, tabs).")
    size = len(text.encode())
    if size > MAX_COMMAND_BYTES:
        raise ValidationError(f"A command is at most {MAX_COMMAND_BYTES} bytes; this one is {size}.")
    if "rcon_password" in text.lower():
        raise ValidationError("The RCON password is never sent by a schedule.")
    first = (text.split(None, 1) or [""])[0].lower()
    if first in USE_AN_ACTION:
        raise ValidationError(f"Use the stop or restart action instead of {first}.")


def validate_webhook_url(url):
    """http(s) only, no credentials, and (unless allowed) no private address; checked again at every send."""
    URLValidator(schemes=["http", "https"])(url)
    if problem := net.url_problem(url):
        raise ValidationError(problem)
    if settings.WEBHOOKS_ALLOW_PRIVATE:
        return
    parts = urlsplit(url)
    try:
        net.checked_addresses(parts.hostname, parts.port or 443, allow_private=False)
    except net.Refused as exc:
        raise ValidationError(str(exc)) from None
    except OSError:
        pass  # does not resolve from here now: the sender checks again every time
