from django.urls import path

from l4d2site import converters  # noqa: F401 (registers <id:...>)

from .views import schedules, updates, webhooks

app_name = "automation"
urlpatterns = [
    path("webhooks/", webhooks.webhook_list, name="webhooks"),
    path("webhooks/<id:webhook_id>", webhooks.webhook_detail, name="webhook"),
    path("webhooks/<id:webhook_id>/test", webhooks.webhook_test, name="webhook_test"),
    path("webhooks/<id:webhook_id>/delete", webhooks.webhook_delete, name="webhook_delete"),
    path("servers/<id:server_id>/schedules", schedules.schedule_list, name="schedules"),
    path("servers/<id:server_id>/schedules/preview", schedules.schedule_preview, name="schedule_preview"),
    path("servers/<id:server_id>/schedules/<id:schedule_id>", schedules.schedule_detail, name="schedule"),
    path(
        "servers/<id:server_id>/schedules/<id:schedule_id>/run",
        schedules.schedule_run_now,
        name="schedule_run_now",
    ),
    path(
        "servers/<id:server_id>/schedules/<id:schedule_id>/toggle",
        schedules.schedule_toggle,
        name="schedule_toggle",
    ),
    path(
        "servers/<id:server_id>/schedules/<id:schedule_id>/delete",
        schedules.schedule_delete,
        name="schedule_delete",
    ),
    path("servers/<id:server_id>/update-policy", updates.update_policy, name="update_policy"),
]
