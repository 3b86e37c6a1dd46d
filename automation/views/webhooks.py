"""Webhooks: the user's list and a new one, each webhook's page (edit, delivery log), send test, delete."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.db.models import Prefetch
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from l4d2site.pagination import positive_id

from .. import audit
from ..access import webhook_for_user
from ..forms import WebhookForm
from ..limits import save_checked
from ..models import Delivery, DeliveryAttempt, DeliveryState, Webhook
from ..models.webhooks import TEST_EVENT
from ..webhooks import payload

DELIVERIES_SHOWN = 50


@require_http_methods(["GET", "POST"])
@login_required
def webhook_list(request):
    """GET: the user's webhooks (staff: all) and a form for a new one; POST: create it."""
    initial = {"server": positive_id(request.GET.get("server"))}
    form = WebhookForm(request.POST or None, user=request.user, initial=initial)
    form.instance.owner = request.user  # before validation, which counts their webhooks for all servers
    if request.method == "POST" and form.is_valid() and (webhook := save_checked(form, request=request)):
        messages.success(request, f"Webhook “{webhook}” saved. Send a test to check it.")
        return redirect(webhook)
    hooks = Webhook.objects.visible_to(request.user).select_related("server", "owner").order_by("id")
    context = {"webhooks": hooks, "form": form}
    return render(request, "automation/webhooks.html", context, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@login_required
def webhook_detail(request, webhook_id):
    """GET: the webhook with its delivery log (htmx: the log alone); POST: save changes."""
    webhook = webhook_for_user(request.user, webhook_id)
    form = WebhookForm(request.POST or None, instance=webhook, user=webhook.owner)
    if (
        request.method == "POST" and form.is_valid() and save_checked(form, request=request)
    ):  # it may move to a full server
        messages.success(request, f"Webhook “{webhook}” saved.")
        return redirect(webhook)
    tries = Prefetch("tries", queryset=DeliveryAttempt.objects.order_by("number"))
    deliveries = list(webhook.deliveries.prefetch_related(tries).order_by("-id")[:DELIVERIES_SHOWN])
    waiting = any(d.state in (DeliveryState.PENDING, DeliveryState.SENDING) for d in deliveries)
    context = {"webhook": webhook, "form": form, "deliveries": deliveries, "waiting": waiting}
    if request.htmx:
        return render(request, "automation/_deliveries.html", context)
    return render(request, "automation/webhook.html", context, status=400 if form.errors else 200)


@require_POST
@login_required
def webhook_test(request, webhook_id):
    """Queue a test message; the worker sends it (once, no retries) and the log shows the answer."""
    webhook = webhook_for_user(request.user, webhook_id)
    with transaction.atomic():
        Delivery.objects.create(
            webhook=webhook, event=TEST_EVENT, payload=payload.test_body(webhook), max_attempts=1
        )
        audit.record(webhook, "tested", request)
    messages.info(request, "Test message queued: the worker sends it within seconds; its answer shows below.")
    return redirect(webhook)


@require_POST
@login_required
def webhook_delete(request, webhook_id):
    webhook = webhook_for_user(request.user, webhook_id)
    with transaction.atomic():
        audit.record(webhook, "deleted", request)
        webhook.delete()
    messages.success(request, f"Webhook “{webhook}” deleted.")
    return redirect("automation:webhooks")
