from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import views

app_name = "addons"
urlpatterns = [
    path("servers/<id:server_id>/addons", views.addons_page, name="page"),
]
