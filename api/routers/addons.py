"""A server's addons: SourceMod, MetaMod, plugins, admins, Workshop items (DESIGN.md §14)."""

from ninja import Router

from servers.access import server_for_user

from .workshop import workshop_list

router = Router(tags=["addons"])


@router.get("/servers/{int:server_id}/addons", url_name="addons")
def addons(request, server_id: int):
    server = server_for_user(request.user, server_id, "addons.read")
    workshop = workshop_list(server)
    return {"sourcemod": None, "metamod": None, "plugins": [], "admins": [], "workshop": workshop}
