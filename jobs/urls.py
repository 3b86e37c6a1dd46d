from django.urls import path

from . import sse, views

app_name = "jobs"
urlpatterns = [
    path("<int:job_id>", views.job_detail, name="detail"),
    path("<int:job_id>/cancel", views.job_cancel, name="cancel"),
    path("<int:job_id>/events", sse.job_events, name="events"),
    path("<int:job_id>/log.txt", views.job_log_txt, name="log_txt"),
]
