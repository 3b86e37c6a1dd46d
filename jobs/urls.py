from django.contrib import admin
from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import consumers, views

app_name = "jobs"
urlpatterns = [
    path("<id:job_id>", views.job_detail, name="detail"),
    path("<id:job_id>/cancel", views.job_cancel, name="cancel"),
    path("<id:job_id>/retry", views.job_retry, name="retry"),
    path("<id:job_id>/events", views.job_events, name="events"),
    path("<id:job_id>/log.txt", views.job_log_txt, name="log_txt"),
]

# Mounted by l4d2site/urls.py under /servers/ and /admin/ (outside this app's prefix).
server_urlpatterns = [
    path("<id:server_id>/jobs", views.server_jobs, name="server_jobs"),
]
admin_urlpatterns = [
    path("jobs", admin.site.admin_view(views.admin_jobs), name="admin_jobs"),
]
websocket_urlpatterns = [
    path("ws/jobs/<id:job_id>/logs", consumers.JobLogConsumer.as_asgi()),
]
