from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from .access import server_for_user
from .models import Server


@require_GET
@login_required
def server_list(request):
    servers = Server.objects.visible_to(request.user).select_related("owner", "node")
    return render(request, "servers/list.html", {"servers": servers})


@require_GET
@login_required
def server_detail(request, server_id):
    server = server_for_user(request.user, server_id)
    return render(request, "servers/detail.html", {"server": server})
