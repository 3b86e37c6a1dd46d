"""Schedules and webhooks (DESIGN.md §12), through the forms and limits the pages use."""

from django.db import transaction
from ninja import Body, Router, Status

from automation import audit
from automation.access import schedule_for_user, webhook_for_user
from automation.forms import ScheduleForm, WebhookForm
from automation.limits import save_checked
from automation.models import Delivery, Schedule, Webhook
from automation.models.webhooks import TEST_EVENT
from automation.webhooks import payload
from servers.access import Forbidden, key_allows, server_for_user

from ..errors import ApiError
from ..forms import apply_form
from ..paging import page
from ..representations import iso

router = Router(tags=["automation"])


def schedule_dict(schedule):
    return {
        "id": schedule.id,
        "server": schedule.server_id,
        "name": schedule.name,
        "cron": schedule.cron,
        "timezone": schedule.timezone,
        "action": schedule.action,
        "command": schedule.command,
        "enabled": schedule.enabled,
        "description": schedule.description,
        "next_run_at": iso(schedule.next_run_at),
        "last_run_at": iso(schedule.last_run_at),
    }


def webhook_dict(hook):
    # The URL is a secret (a Discord webhook's path is its password): only its host is shown.
    return {
        "id": hook.id,
        "name": hook.name,
        "server": hook.server_id,
        "host": hook.url.split("/")[2] if "://" in hook.url else "",
        "events": hook.events,
        "enabled": hook.enabled,
    }


def _saved(form, request):
    saved = save_checked(form, request=request)
    if saved is None:
        raise ApiError(409, " ".join(form.non_field_errors()))
    return saved


@router.get("/servers/{int:server_id}/schedules", url_name="schedules")
def schedules(request, server_id: int, cursor: int | None = None, limit: int = 50):
    target = server_for_user(request.user, server_id, "schedules.read")
    return page(target.schedules.all(), cursor, limit, schedule_dict)


@router.post("/servers/{int:server_id}/schedules", response={201: dict}, url_name="schedule_create")
def schedule_create(request, server_id: int, fields: Body[dict]):
    target = server_for_user(request.user, server_id, "schedules.update")
    fields = {"timezone": "UTC", "enabled": True, **fields}
    form = apply_form(ScheduleForm, Schedule(server=target, created_by=request.user), fields, partial=False)
    return Status(201, schedule_dict(_saved(form, request)))


@router.get("/servers/{int:server_id}/schedules/{int:schedule_id}", url_name="schedule")
def schedule(request, server_id: int, schedule_id: int):
    return schedule_dict(schedule_for_user(request.user, server_id, schedule_id)[1])


@router.patch("/servers/{int:server_id}/schedules/{int:schedule_id}", url_name="schedule_update")
def schedule_update(request, server_id: int, schedule_id: int, changes: Body[dict]):
    _, target = schedule_for_user(request.user, server_id, schedule_id, "schedules.update")
    return schedule_dict(_saved(apply_form(ScheduleForm, target, changes), request))


@router.delete(
    "/servers/{int:server_id}/schedules/{int:schedule_id}", response={204: None}, url_name="schedule_delete"
)
def schedule_delete(request, server_id: int, schedule_id: int):
    _, target = schedule_for_user(request.user, server_id, schedule_id, "schedules.update")
    with transaction.atomic():
        audit.record(target, "deleted", request)
        target.delete()
    return Status(204, None)


@router.get("/webhooks", url_name="webhooks")
def webhooks(request, cursor: int | None = None, limit: int = 50):
    """Your webhooks (staff: all)."""
    return page(Webhook.objects.visible_to(request.user), cursor, limit, webhook_dict)


@router.post("/webhooks", response={201: dict}, url_name="webhook_create")
def webhook_create(request, fields: Body[dict]):
    """A webhook for one of the servers on which you hold `webhooks.update` (staff: or all servers)."""
    server_id = fields.get("server")
    if server_id not in (None, ""):
        try:
            server_id = int(server_id)
        except (TypeError, ValueError):
            raise ApiError(400, "server: a server's id, or null for all servers (staff only).") from None
        server_for_user(request.user, server_id, "webhooks.update")  # 404, or 403 with the reason
    elif not key_allows(request.user, "webhooks.update"):
        raise Forbidden("webhooks.update")
    form = apply_form(WebhookForm, Webhook(owner=request.user), fields, partial=False, user=request.user)
    return Status(201, webhook_dict(_saved(form, request)))


@router.get("/webhooks/{int:webhook_id}", url_name="webhook")
def webhook(request, webhook_id: int):
    return webhook_dict(webhook_for_user(request.user, webhook_id))


@router.patch("/webhooks/{int:webhook_id}", url_name="webhook_update")
def webhook_update(request, webhook_id: int, changes: Body[dict]):
    target = webhook_for_user(request.user, webhook_id)
    return webhook_dict(_saved(apply_form(WebhookForm, target, changes, user=target.owner), request))


@router.delete("/webhooks/{int:webhook_id}", response={204: None}, url_name="webhook_delete")
def webhook_delete(request, webhook_id: int):
    target = webhook_for_user(request.user, webhook_id)
    with transaction.atomic():
        audit.record(target, "deleted", request)
        target.delete()
    return Status(204, None)


@router.post("/webhooks/{int:webhook_id}/test", response={202: dict}, url_name="webhook_test")
def webhook_test(request, webhook_id: int):
    """Queue a test message; the worker sends it (once) and its delivery log shows the answer."""
    target = webhook_for_user(request.user, webhook_id)
    with transaction.atomic():
        delivery = Delivery.objects.create(
            webhook=target, event=TEST_EVENT, payload=payload.test_body(target), max_attempts=1
        )
        audit.record(target, "tested", request)
    return Status(202, {"delivery": delivery.id})
