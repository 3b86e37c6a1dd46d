from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import views, workshop_views

app_name = "addons"
urlpatterns = [
    path("servers/<id:server_id>/addons", views.addons_page, name="page"),
    path("servers/<id:server_id>/addons/workshop", workshop_views.add, name="workshop_add"),
    path("servers/<id:server_id>/addons/workshop/update", workshop_views.update_all, name="workshop_update"),
    path(
        "servers/<id:server_id>/addons/workshop/<id:item_id>/remove",
        workshop_views.remove,
        name="workshop_remove",
    ),
]
