"""Template tags for the automation parts of server pages (so `servers` never imports `automation`)."""

from django import template
from django.utils.html import format_html

from l4d2site.db import fetch
from servers.models import UpdatePolicy

from ..models import Schedule
from ..updates import newer

register = template.Library()

# As a statement: through the ORM this count cost the server page 0.3 ms (bench/page_floor.py).
ACTIVE_SCHEDULES = f"SELECT COUNT(*) FROM {Schedule._meta.db_table} WHERE server_id = %s AND enabled = %s"


@register.simple_tag
def update_badge(server):
    """The badge "Update available (build X → Y)" if the server watches for updates and Valve
    has a newer build than it runs, else "". A tag, not an included template: the server list
    draws it on every row, and an include cost a row 25 µs to draw nothing."""
    if server.update_policy == UpdatePolicy.OFF or not newer(server.latest_build, server.installed_build):
        return ""
    applied = "; it is applied automatically" if server.update_policy == UpdatePolicy.APPLY else ""
    return format_html(
        '<span class="badge s-update" title="Valve shipped a newer build of the game{}">'
        "Update available (build {} → {})</span>",
        applied,
        server.installed_build,
        server.latest_build,
    )


@register.inclusion_tag("automation/_server_automation.html", takes_context=True)
def server_automation(context, server):
    """The server page's automation card: update policy, schedules, webhooks."""
    return {
        **context.flatten(),
        "server": server,
        # The choices as they are: a form's widget templates cost the page a millisecond.
        "policies": UpdatePolicy.choices,
        "schedule_count": fetch(ACTIVE_SCHEDULES, (server.id, True))[0][0],
    }
