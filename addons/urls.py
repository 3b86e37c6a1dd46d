from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import views, workshop_views

app_name = "addons"
urlpatterns = [
    path("servers/<id:server_id>/addons", views.addons_page, name="page"),
    path("servers/<id:server_id>/addons/sourcemod", views.sourcemod_action, name="sourcemod"),
    path("servers/<id:server_id>/addons/plugins", views.plugin_upload, name="plugin_upload"),
    path("servers/<id:server_id>/addons/plugins/<str:name>", views.plugin_toggle, name="plugin_toggle"),
    path(
        "servers/<id:server_id>/addons/plugins/<str:name>/delete", views.plugin_delete, name="plugin_delete"
    ),
    path("servers/<id:server_id>/addons/admins", views.admins_save, name="admins"),
    path("servers/<id:server_id>/addons/workshop", workshop_views.add, name="workshop_add"),
    path("servers/<id:server_id>/addons/workshop/update", workshop_views.update_all, name="workshop_update"),
    path(
        "servers/<id:server_id>/addons/workshop/<id:item_id>/remove",
        workshop_views.remove,
        name="workshop_remove",
    ),
]
