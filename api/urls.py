"""/api/v1/: one NinjaAPI, a router per area, one exception handler set (DESIGN.md §12).

django-ninja over DRF: the schemas are type hints, the OpenAPI 3 document and its docs
(served from the package's own static files, no CDN) come from the same functions, and the
handlers stay plain functions calling the same access checks and services as the pages.
"""

from django.urls import path
from ninja import NinjaAPI

from . import errors
from .auth import AUTH
from .routers import activity, addons, automation, jobs, servers, team, workshop

api = NinjaAPI(
    title="L4D2 host panel API",
    version="1",
    description="Scripts and bots drive the panel with an API key (`Authorization: Bearer l4d2_...`).",
    auth=AUTH,
    urls_namespace="api-1",
)
errors.install(api)
for area in (servers, jobs, automation, team, activity, addons, workshop):
    api.add_router("", area.router)

urlpatterns = [path("", api.urls)]
