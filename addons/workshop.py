"""Workshop items of a server: asking for them (jobs of kind `workshop`), recording what the
job did to each, offering their maps, and updating them when Steam has a newer version.

The pages, the API, schedules and the after-update hook all come through here, so each
refuses and records the same way. The job itself is hostctl.workshop.run on the game host;
`operation` below is what the worker calls for it (registered with servers.l4d2_facade
by AddonsConfig.ready: servers never imports addons).
"""

from django.db import transaction
from django.utils import timezone

import activity
from hostctl import steam_api, workshop
from jobs.models import Job, JobKind, JobTrigger
from jobs.rules import refusal
from servers.models import Server

from .workshop_models import WorkshopItem, WorkshopState


class Refused(Exception):
    """A request that makes no sense as it is; `reason` says why (HTTP 400 or 409)."""

    def __init__(self, reason, status=400):
        super().__init__(reason)
        self.reason, self.status = reason, status


def read_request(items, collection):
    """(ids, collection id or None) from what a person pasted; Refused naming what is wrong."""
    try:
        ids = steam_api.parse_ids(" ".join(str(i) for i in items or []))
    except ValueError as exc:
        raise Refused(str(exc)) from None
    found = None
    if collection not in (None, ""):
        found = steam_api.item_id(str(collection))
        if found is None:
            raise Refused(f"{str(collection)[:80]!r} is neither a collection id nor a link to one")
    if not ids and found is None:
        raise Refused("Give at least one Workshop item or a collection (an id or a link).")
    return ids, found


def add(server, user, items, collection=None, *, request=None):
    """Queue the download of `items` and/or a collection's; the job. Refused, QueueFull."""
    ids, collection = read_request(items, collection)
    params = {"action": "add", "items": ids, "collection": collection}
    return _queue(server, user, params, "workshop.added", request=request, queued=ids)


def remove(server, user, item_id, *, request=None):
    """Queue the removal of one item's VPK from the game host; the job. Http404-like Refused."""
    row = server.workshop_items.filter(item_id=str(item_id)).first()
    if row is None:
        raise Refused(f"Workshop item {item_id} is not on {server.name}.", status=404)
    params = {"action": "remove", "items": [row.item_id]}
    return _queue(server, user, params, "workshop.removed", request=request)


def update_all(server, user=None, *, trigger=JobTrigger.USER, request=None, detail=None):
    """Queue an update of every installed item whose Steam update time changed; the job, or
    None when the server has no Workshop items (nothing to ask Steam about)."""
    rows = list(server.workshop_items.filter(state=WorkshopState.INSTALLED).order_by("item_id"))
    if not rows:
        return None
    params = {
        "action": "update",
        "items": [row.item_id for row in rows],
        "known": {row.item_id: row.time_updated for row in rows},
    }
    return _queue(server, user, params, "workshop.updated", request=request, trigger=trigger, detail=detail)


def _queue(server, user, params, action, *, request=None, trigger=JobTrigger.USER, queued=(), detail=None):
    if why := refusal(JobKind.WORKSHOP, server):
        raise Refused(why, status=409)
    with transaction.atomic():
        job = Job.enqueue(
            server, JobKind.WORKSHOP, user, trigger=trigger, request=request, params=params, detail=detail
        )
        if job.duplicate:
            return job
        for item in queued:
            row, created = WorkshopItem.objects.get_or_create(
                server=server, item_id=item, defaults={"job": job}
            )
            if not created and row.state != WorkshopState.INSTALLED:
                WorkshopItem.objects.filter(pk=row.pk).update(state=WorkshopState.QUEUED, error="", job=job)
        if trigger == JobTrigger.USER:
            what = {"items": params["items"], "collection": params.get("collection"), "job": job.id}
            activity.record(action, actor=user, server=server, request=request, detail=what)
    return job


# --- on the game host, in the worker ----------------------------------------------------


def operation(spec, sink, cancel=None, *, config, params):
    """The `workshop` job: hostctl does the files, each item's outcome is recorded here."""
    server = Server.objects.get(pk=spec.id)
    return workshop.run(spec, sink, cancel, config=config, params=params, on_item=lambda o: record(server, o))


def record(server, outcome):
    """One item's outcome onto its row (a removed item's row goes)."""
    if outcome.removed:
        WorkshopItem.objects.filter(server=server, item_id=outcome.id).delete()
        return
    item = outcome.item
    fields = {"title": item.title} if item is not None and item.title else {}
    if outcome.error:
        current = WorkshopItem.objects.filter(server=server, item_id=outcome.id).first()
        if current is not None and current.state == WorkshopState.INSTALLED:
            # An update that failed leaves the installed file as it was: say why, keep the rest.
            WorkshopItem.objects.filter(pk=current.pk).update(error=outcome.error[:300])
            return
        fields.update(state=WorkshopState.FAILED, error=outcome.error[:300])
    elif outcome.unchanged:
        fields.update(error="")
    else:
        contents = outcome.contents
        fields.update(
            size=item.size,
            time_updated=item.time_updated,
            maps=list(contents.maps),
            campaigns=[{"title": c.title, "maps": list(c.maps)} for c in contents.campaigns],
            state=WorkshopState.INSTALLED,
            error="",
            installed_at=timezone.now(),
        )
    WorkshopItem.objects.update_or_create(server=server, item_id=outcome.id, defaults=fields)


# --- what the rest of the panel sees ----------------------------------------------------


def map_groups(server):
    """servers.maps source: the installed items' maps, one group per campaign (by its title)."""
    if server is None or server.pk is None:
        return []  # choices for a server not yet made: it has no add-ons
    groups = []
    for row in server.workshop_items.filter(state=WorkshopState.INSTALLED):
        in_campaigns = set()
        for campaign in row.campaigns:
            title = campaign["title"]
            maps = [(name, f"{title} {number}: {name}") for number, name in enumerate(campaign["maps"], 1)]
            groups.append((f"Workshop: {title}", maps))
            in_campaigns.update(campaign["maps"])
        loose = [(name, f"{row}: {name}") for name in row.maps if name not in in_campaigns]
        if loose:
            groups.append((f"Workshop: {row}", loose))
    return groups


def after_game_update(sender, name, server, text, job=None, **kwargs):
    """servers.events listener: a game update that succeeded brings the Workshop items along."""
    if name == "job.succeeded" and job is not None and job.kind == JobKind.UPDATE:
        update_all(server, trigger=JobTrigger.MONITOR, detail={"reason": "after a game update"})
