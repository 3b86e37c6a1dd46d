"""The activity log: who did what, from where, through what (DESIGN.md §11).

Every app may call `record()`: this app names users and servers only by lazy foreign
keys and imports nothing from the apps above it, so no import cycle can form.
"""

from django.db import transaction

from l4d2site.client_ip import client_ip

API_PATH = "/api/"  # where the HTTP API is mounted (l4d2site/urls.py): its requests are via "api"


def record(action, *, actor=None, via="web", server=None, ip=None, detail=None, request=None):
    """Store one event and return it.

    `action` is dotted (`auth.login`, `job.cancelled`); `detail` is JSON and never holds a
    secret (no password, key, token or file body: it is shown to staff, to the actor and to
    the server's members with `activity.read`). With a `request`, the actor (if not given)
    is its logged-in user and the address its client's; a request to the HTTP API, or one
    made with an API key, is via "api" and keeps the key. Called inside the transaction of
    the change it records, the event commits (or not) with it.
    """
    # Imported here: the package is imported before Django's app registry is ready.
    from .live import nudge
    from .models import Event

    api_key = None
    if request is not None:
        user = getattr(request, "user", None)
        if actor is None and user is not None and user.is_authenticated:
            actor = user
        if ip is None:
            ip = client_ip(request)
        # The API's key auth marks the request, and the user it acts for (a WebSocket's too).
        api_key = getattr(request, "api_key", None) or getattr(user, "api_key", None)
        if via == "web" and (api_key is not None or getattr(request, "path", "").startswith(API_PATH)):
            via = "api"
    detail = dict(detail or {})
    if server is not None:
        # Kept so the event still says which server once the server is deleted.
        detail.setdefault("server_name", server.name)
    event = Event.objects.create(
        action=action, actor=actor, via=via, api_key=api_key, server=server, ip=ip, detail=detail
    )
    if server is not None:
        # The server's live activity page looks again, once the event can be read.
        transaction.on_commit(lambda: nudge(server.pk))
    return event


def changes(form, *, hidden=()):
    """A saved form's changes as detail: the names of the changed fields, and the new values
    of those not in `hidden` (passwords, file bodies: their names only)."""
    fields = list(form.changed_data)
    values = {name: form.cleaned_data[name] for name in fields if name not in hidden}
    return {"fields": fields, "values": {k: v for k, v in values.items() if _plain(v)}}


def _plain(value):
    # What JSON keeps as it is; anything else (a related object) is named by its field only.
    return value is None or isinstance(value, str | int | float | bool)
