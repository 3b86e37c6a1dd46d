from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

import activity
from servers.access import server_for_user

from ..forms import UpdatePolicyForm


@require_POST
@login_required
def update_policy(request, server_id):
    """The owner chooses what happens when Valve ships a new build: off, notify or apply."""
    server = server_for_user(request.user, server_id, "settings.update")
    form = UpdatePolicyForm(request.POST, instance=server)
    if not form.is_valid():
        message = "Choose off, notify or apply."
        return render(
            request, "error.html", {"title": "Unknown update policy", "message": message}, status=400
        )
    with transaction.atomic():
        form.save()
        if form.has_changed():
            detail = {"update_policy": server.update_policy}
            activity.record("settings.update_policy", request=request, server=server, detail=detail)
    messages.success(
        request, f"Game updates for {server.name}: {server.get_update_policy_display().lower()}."
    )
    return redirect(server)
