"""Template pieces every page shares (`{% load panel_tags %}`): times people read.

Registered in settings.TEMPLATES as the `panel_tags` library, so server, job and
admin templates use one rendering without the apps importing each other.
"""

from datetime import UTC

from django import template
from django.utils.html import format_html

register = template.Library()


@register.filter
def reltime(value):
    """A datetime as `<time data-rel>`: panel.js shows "3 min ago" with the exact local time as tooltip.

    Without JavaScript the text is the exact time in UTC, zone included.
    """
    if not value:
        return "—"
    utc = value.astimezone(UTC)
    exact = f"{utc:%Y-%m-%d %H:%M:%S} UTC"
    return format_html(
        '<time datetime="{}" data-rel title="{}">{}</time>',
        utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        exact,
        f"{utc:%Y-%m-%d %H:%M} UTC",
    )
