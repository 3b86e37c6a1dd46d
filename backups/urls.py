from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import views

app_name = "backups"
urlpatterns = [
    path("servers/<id:server_id>/backups", views.backup_list, name="list"),
    path("servers/<id:server_id>/backups/settings", views.backup_settings, name="settings"),
    path("servers/<id:server_id>/backups/<id:backup_id>", views.backup_detail, name="detail"),
    path("servers/<id:server_id>/backups/<id:backup_id>/restore", views.backup_restore, name="restore"),
    path("servers/<id:server_id>/backups/<id:backup_id>/lock", views.backup_lock, name="lock"),
    path("servers/<id:server_id>/backups/<id:backup_id>/delete", views.backup_delete, name="delete"),
    path("servers/<id:server_id>/backups/<id:backup_id>/download", views.backup_download, name="download"),
]
