"""The addons page of a server: SourceMod and MetaMod, plugins, admins, Workshop items."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from servers.access import server_for_user


@require_GET
@login_required
def addons_page(request, server_id):
    server = server_for_user(request.user, server_id, "addons.read")
    return render(request, "addons/addons.html", {"server": server})
