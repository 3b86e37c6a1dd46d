from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from jobs.admin import admin_jobs_view

urlpatterns = [
    path("", RedirectView.as_view(url="/servers/", permanent=False)),
    path("servers/", include("servers.urls")),
    path("jobs/", include("jobs.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    # Before the admin's own URLs: /admin/jobs is the shared job table, not the app index.
    path("admin/jobs", admin.site.admin_view(admin_jobs_view), name="admin_jobs"),
    path("admin/jobs/", RedirectView.as_view(url="/admin/jobs", query_string=True)),
    path("admin/", admin.site.urls),
]
