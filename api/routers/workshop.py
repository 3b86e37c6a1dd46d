"""A server's Workshop items (DESIGN.md §14): add (items and/or a collection) and remove, as jobs."""

from ninja import Router, Schema, Status

from addons import workshop
from addons.models import WorkshopState
from servers.access import server_for_user

from .. import representations as show
from ..errors import ApiError

router = Router(tags=["addons"])


class WorkshopIn(Schema):
    items: list[str] = []
    collection: str | int | None = None


def item_dict(row):
    return {"id": row.item_id, "title": row.title, "size": row.size, "maps": row.maps}


def workshop_list(server):
    """The `workshop` list of GET /servers/<id>/addons: the installed items."""
    return [item_dict(row) for row in server.workshop_items.filter(state=WorkshopState.INSTALLED)]


@router.post("/servers/{int:server_id}/addons/workshop", response={202: dict}, url_name="workshop_add")
def add(request, server_id: int, body: WorkshopIn):
    """Download Workshop items (ids or links) and/or a collection's, in a job; 202 `{"job"}`."""
    target = server_for_user(request.user, server_id, "addons.update")
    try:
        job = workshop.add(target, request.user, body.items, body.collection, request=request)
    except workshop.Refused as refused:
        raise ApiError(refused.status, refused.reason) from None
    return Status(202, {"job": show.job(request, job)})


@router.delete(
    "/servers/{int:server_id}/addons/workshop/{int:item_id}", response={202: dict}, url_name="workshop_remove"
)
def remove(request, server_id: int, item_id: int):
    """Remove one item's VPK from the server, in a job; 202 `{"job"}`."""
    target = server_for_user(request.user, server_id, "addons.update")
    try:
        job = workshop.remove(target, request.user, item_id, request=request)
    except workshop.Refused as refused:
        raise ApiError(refused.status, refused.reason) from None
    return Status(202, {"job": show.job(request, job)})
