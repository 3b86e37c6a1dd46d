"""The activity log: who did what, from where, through what (DESIGN.md §11).

Every app may call `record()`: this app names users and servers only by lazy foreign
keys and imports nothing from the apps above it, so no import cycle can form.
"""

from l4d2site.client_ip import client_ip


def record(action, *, actor=None, via="web", server=None, ip=None, detail=None, request=None):
    """Store one event and return it.

    `action` is dotted (`auth.login`, `job.cancelled`); `detail` is JSON and never holds a
    secret (no password, key or token: it is shown to staff and to the actor). With a
    `request`, the actor (if not given) is its logged-in user and the address its client's.
    """
    # Imported here: the package is imported before Django's app registry is ready.
    from .models import Event

    if request is not None:
        user = getattr(request, "user", None)
        if actor is None and user is not None and user.is_authenticated:
            actor = user
        if ip is None:
            ip = client_ip(request)
    detail = dict(detail or {})
    if server is not None:
        # Kept so the event still says which server once the server is deleted.
        detail.setdefault("server_name", server.name)
    return Event.objects.create(action=action, actor=actor, via=via, server=server, ip=ip, detail=detail)
