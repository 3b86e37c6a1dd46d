from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from . import admin_views, consumers, log_views, views

app_name = "jobs"
urlpatterns = [
    path("<id:job_id>", views.job_detail, name="detail"),
    path("<id:job_id>/cancel", views.job_cancel, name="cancel"),
    path("<id:job_id>/retry", views.job_retry, name="retry"),
    path("<id:job_id>/now", views.job_now, name="now"),
    path("<id:job_id>/events", log_views.job_events, name="events"),
    path("<id:job_id>/log.txt", log_views.job_log_txt, name="log_txt"),
    path("<id:job_id>/search", log_views.job_search, name="search"),
    path("<id:job_id>/lines", log_views.job_lines, name="lines"),
]

# Mounted by l4d2site/urls.py under /servers/ and /admin/ (outside this app's prefix).
server_urlpatterns = [
    path("<id:server_id>/jobs", views.server_jobs, name="server_jobs"),
]
admin_urlpatterns = [
    path("jobs", admin_views.admin_jobs, name="admin_jobs"),
]
websocket_urlpatterns = [
    path("ws/jobs/<id:job_id>/logs", consumers.JobLogConsumer.as_asgi()),
]
