"""Validators for what owners type into schedules and webhooks."""

import zoneinfo
from functools import cache
from urllib.parse import urlsplit

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from servers.console.commands import Refused, check_text

from .webhooks import net


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


# The regions of the tz database's geographic zones ("Europe/Berlin"). Left out: "Etc/*"
# (fixed offsets, signs inverted), old country aliases ("US/Eastern", "GB"), "Factory",
# "localtime", "posixrules" and the like, which nobody means when they pick a place.
REGIONS = (
    *("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic"),
    *("Australia", "Europe", "Indian", "Pacific"),
)


@cache
def place_zones():
    """The zones a person picks from, sorted: the geographic ones, and UTC."""
    places = {name for name in time_zones() if name.split("/", 1)[0] in REGIONS and "/" in name}
    return sorted(places) + ["UTC"]


def validate_time_zone(name):
    if name not in time_zones():
        raise ValidationError(f"“{name}” is not a known time zone (use a name like Europe/Berlin or UTC).")


def validate_console_command(text):
    """The same rules as a command typed on the console page (servers.console.commands)."""
    try:
        check_text(text)
    except Refused as refused:
        raise ValidationError(refused.reason) from None


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
