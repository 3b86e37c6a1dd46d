from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import views

app_name = "servers"
urlpatterns = [
    path("", views.server_list, name="list"),
    path("<id:server_id>", views.server_detail, name="detail"),
]
