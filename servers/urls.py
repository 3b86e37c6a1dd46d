from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import consumers, views

app_name = "servers"
urlpatterns = [
    path("", views.server_list, name="list"),
    path("<id:server_id>", views.server_detail, name="detail"),
    path("<id:server_id>/auto-restart", views.server_auto_restart, name="auto_restart"),
]
websocket_urlpatterns = [
    path("ws/servers/state", consumers.ServerListConsumer.as_asgi()),
    path("ws/servers/<id:server_id>/state", consumers.ServerStateConsumer.as_asgi()),
]
