"""A membership changed: the open streams of that server ask again who may follow them."""

from django.db import transaction

from streams import revocation


def membership_changed(sender, instance, **kwargs):
    # After the commit: a check made before it would still see the old permissions.
    server_id = instance.server_id
    transaction.on_commit(lambda: revocation.changed(server_id))
