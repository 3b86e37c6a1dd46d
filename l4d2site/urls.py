from django.contrib import admin
from django.shortcuts import redirect
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView

from accounts.urls import account_urlpatterns, admin_login
from api import pages as api_pages
from jobs.urls import admin_urlpatterns as job_admin_urls
from jobs.urls import server_urlpatterns as server_job_urls
from l4d2site import converters  # noqa: F401 (registers <id:...>)

# The admin's header and tab title name the panel, not the framework.
admin.site.site_header = admin.site.site_title = "L4D2 host panel"
admin.site.index_title = "Administration"


def favicon(request):
    """Browsers ask for /favicon.ico on pages without a <link rel=icon> (the admin's): the panel's icon."""
    return redirect(static("favicon.svg"), permanent=True)


urlpatterns = [
    path("", RedirectView.as_view(url="/servers/", permanent=False)),
    path("favicon.ico", favicon),
    path("servers/", include("servers.urls")),
    path("servers/", include(server_job_urls)),
    path("jobs/", include("jobs.urls")),
    path("", include("automation.urls")),  # /servers/<id>/schedules, /webhooks/
    path("", include("addons.urls")),  # /servers/<id>/addons
    path("accounts/", include("accounts.urls")),
    path("api/v1/", include("api.urls")),
    path("account/api-keys", api_pages.keys, name="api_keys"),
    path("account/api-keys/<id:key_id>/revoke", api_pages.revoke, name="api_key_revoke"),
    path("account/", include(account_urlpatterns)),
    # Before the admin's own URLs: the admin logs in through the panel's login and its
    # code step (accounts/urls.py), never around them.
    path("admin/login/", admin_login),
    # Before the admin's own URLs: /admin/jobs is the shared job table, not the app index.
    path("admin/", include(job_admin_urls)),
    path("admin/jobs/", RedirectView.as_view(url="/admin/jobs", query_string=True)),
    path("admin/", admin.site.urls),
]
