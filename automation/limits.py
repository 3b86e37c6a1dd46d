"""How many schedules and webhooks one server may have, and one person for all servers.

Schedules run with nobody watching and every webhook is one more delivery per event,
so neither is bounded by the per-person limits (5 console commands a second, the job
queue): one server with 300 every-minute schedules sent 300 commands a minute.

The count and the insert happen under one lock, the server's row (the user's row for
a webhook that hears all servers), so two requests at once cannot both take the last
place. SQLite's IMMEDIATE transactions already let one writer in at a time.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from servers.models import Server

from . import audit


def check_schedule(schedule):
    """ValidationError if a new (or moved) schedule would give its server more than allowed."""
    if schedule.server_id is None or not _takes_a_place(schedule, "server_id"):
        return
    cap = settings.MAX_SCHEDULES_PER_SERVER
    _lock(Server.objects.filter(pk=schedule.server_id))
    if _taken(type(schedule).objects.filter(server_id=schedule.server_id).exclude(pk=schedule.pk)) >= cap:
        raise ValidationError(
            f"This server already has {cap} schedules, the most one server may have. "
            "Delete one it no longer needs, or change an existing one instead."
        )


def check_webhook(webhook):
    """ValidationError if a new (or moved) webhook would be one more than a server, or a person, may have."""
    if webhook.owner_id is None or not _takes_a_place(webhook, "server_id", "owner_id"):
        return
    cap = settings.MAX_WEBHOOKS_PER_SERVER
    others = type(webhook).objects.exclude(pk=webhook.pk)
    if webhook.server_id is None:
        # Staff's webhooks for all servers: each is one more delivery for every event of
        # every server, so one person's count as if they were one more server's.
        _lock(get_user_model().objects.filter(pk=webhook.owner_id))
        if _taken(others.filter(server__isnull=True, owner_id=webhook.owner_id)) >= cap:
            raise ValidationError(
                f"{webhook.owner.get_username()} already has {cap} webhooks for all servers, the most "
                "one person may have. Delete one that is no longer needed, or let one webhook carry "
                "several events."
            )
        return
    _lock(Server.objects.filter(pk=webhook.server_id))
    if _taken(others.reaching(webhook.server)) >= cap:
        raise ValidationError(
            f"{webhook.server.name} already has {cap} webhooks, the most one server may have. "
            "Delete one that is no longer needed, or let one webhook carry several events."
        )


def save_checked(form, *, request=None):
    """`form.save()` after checking its limit again under the lock; None (the error on the form) if full.

    Call it once `form.is_valid()`: validation already counted, but without the lock
    (a webhook's validation looks its URL up in DNS, too slow to hold a lock for).
    A new one, or a change, is an activity event in the same transaction.
    """
    with transaction.atomic():
        try:
            form.instance.check_limit()
        except ValidationError as refused:
            form.add_error(None, refused)
            return None
        adding = form.instance._state.adding
        saved = form.save()
        if adding or form.has_changed():
            audit.record(saved, "created" if adding else "updated", request, form=None if adding else form)
        return saved


def _takes_a_place(instance, *fields):
    """True for a new row, or one whose server (or owner) changes: it needs a free place there."""
    if instance._state.adding:
        return True
    stored = type(instance).objects.filter(pk=instance.pk).values_list(*fields).first()
    return stored != tuple(getattr(instance, field) for field in fields)


def _lock(rows):
    # Only inside a transaction (the views' save_checked, the admin's change form): the
    # lock lasts until the insert commits. A form validated outside one just counts.
    if transaction.get_connection().in_atomic_block:
        list(rows.select_for_update().values_list("pk", flat=True))


def _taken(rows):
    return rows.count()
