from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import activity_views, consumers, views
from .cfg import views as cfg_views
from .console import consumers as console_consumers
from .console import views as console_views
from .files import views as files_views
from .team import views as team_views

app_name = "servers"
urlpatterns = [
    path("", views.server_list, name="list"),
    path("<id:server_id>", views.server_detail, name="detail"),
    path("<id:server_id>/auto-restart", views.server_auto_restart, name="auto_restart"),
    path("<id:server_id>/activity", activity_views.server_activity, name="activity"),
    path("<id:server_id>/console", console_views.console, name="console"),
    path("<id:server_id>/files", files_views.browse, name="files"),
    path("<id:server_id>/files/edit", files_views.edit, name="file_edit"),
    path("<id:server_id>/files/download", files_views.download, name="file_download"),
    path("<id:server_id>/files/upload", files_views.upload, name="file_upload"),
    path("<id:server_id>/files/mkdir", files_views.mkdir, name="file_mkdir"),
    path("<id:server_id>/files/rename", files_views.rename, name="file_rename"),
    path("<id:server_id>/files/delete", files_views.delete, name="file_delete"),
    path("<id:server_id>/settings", cfg_views.server_settings, name="settings"),
    path("<id:server_id>/settings/keep-map", cfg_views.keep_map, name="keep_map"),
    path("<id:server_id>/rcon/reveal", cfg_views.rcon_reveal, name="rcon_reveal"),
    path("<id:server_id>/rcon/rotate", cfg_views.rcon_rotate, name="rcon_rotate"),
    path("<id:server_id>/members", team_views.members, name="members"),
    path("<id:server_id>/members/<id:member_id>", team_views.member, name="member"),
    path("<id:server_id>/members/<id:member_id>/remove", team_views.member_remove, name="member_remove"),
    path("<id:server_id>/invites", team_views.invite_create, name="invite_create"),
    path("<id:server_id>/invites/<id:invite_id>/revoke", team_views.invite_revoke, name="invite_revoke"),
    path("invite/<str:token>", team_views.invite_accept, name="invite"),
]
websocket_urlpatterns = [
    path("ws/servers/state", consumers.ServerListConsumer.as_asgi()),
    path("ws/servers/<id:server_id>/state", consumers.ServerStateConsumer.as_asgi()),
    path("ws/servers/<id:server_id>/console", console_consumers.ConsoleConsumer.as_asgi()),
    path("ws/servers/<id:server_id>/activity", consumers.ServerActivityConsumer.as_asgi()),
]
