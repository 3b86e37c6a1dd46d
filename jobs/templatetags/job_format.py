from django import template

register = template.Library()


@register.filter
def duration(delta):
    """A timedelta as H:MM:SS (or M:SS under an hour), like CI job pages show it."""
    if delta is None:
        return "—"
    seconds = max(0, int(delta.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{seconds:02}" if hours else f"{minutes}:{seconds:02}"
