from django import template

from servers.access import permissions_of

register = template.Library()


@register.inclusion_tag("addons/_workshop_items.html", takes_context=True)
def workshop_section(context, server):
    """The server's Workshop items, with the buttons the viewer may use."""
    request = context["request"]
    return {
        **context.flatten(),
        "server": server,
        "items": server.workshop_items.select_related("job"),
        "may_update": "addons.update" in permissions_of(request.user, server),
    }
