"""Template tags for the automation parts of server pages (so `servers` never imports `automation`)."""

from django import template

from l4d2site.db import fetch
from servers.models import UpdatePolicy

from ..models import Schedule
from ..updates import newer

register = template.Library()

# As a statement: through the ORM this count cost the server page 0.3 ms (bench/page_floor.py).
ACTIVE_SCHEDULES = f"SELECT COUNT(*) FROM {Schedule._meta.db_table} WHERE server_id = %s AND enabled = %s"


@register.filter
def update_available(server):
    """True if the server watches for updates and Valve has a newer build than it runs."""
    return server.update_policy != UpdatePolicy.OFF and newer(server.latest_build, server.installed_build)


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
