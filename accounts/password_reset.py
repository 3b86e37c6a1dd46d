"""Password reset by mail: off unless the panel can send mail, throttled when on, and
never telling whether an account exists.

Off (DJANGO_EMAIL_URL unset) its pages answer 404: without a mail server a reset can
only fail, and the web process would try to reach one on localhost:25.

On, each request is an `auth.password_reset` activity event, and those events are the
counters: an address may ask PER_ADDRESS times per WINDOW (then 429, whatever address it
typed); an e-mail address gets a mail for its first PER_EMAIL requests per WINDOW, later
ones get the same "if an account exists, we sent a mail" page and no mail.
"""

import threading
from datetime import timedelta
from functools import wraps

from django.conf import settings
from django.contrib.auth import forms as auth_forms
from django.contrib.auth import views as auth_views
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone

import activity
from activity.models import Event
from l4d2site.client_ip import client_ip

PER_ADDRESS = 5
PER_EMAIL = 3
WINDOW = timedelta(hours=1)
ACTION = "auth.password_reset"
MAIL_THREAD = "password-reset-mail"


def mail_required(view):
    """404 while password reset is off (checked per request: settings may change in tests)."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.PASSWORD_RESET_ENABLED:
            raise Http404("Password reset is off: this panel sends no mail.")
        return view(request, *args, **kwargs)

    return wrapped


class PasswordResetForm(auth_forms.PasswordResetForm):
    def send_mail(self, *args, **kwargs):
        # Only an existing account costs a round trip to the mail server; sent in the
        # background, the answer takes as long whether the account exists or not.
        # (Django's send_mail logs, never raises, a failed send.)
        threading.Thread(
            target=super().send_mail, args=args, kwargs=kwargs, name=MAIL_THREAD, daemon=True
        ).start()


class PasswordResetView(auth_views.PasswordResetView):
    form_class = PasswordResetForm

    def post(self, request, *args, **kwargs):
        if _recent().filter(ip=client_ip(request)).count() >= PER_ADDRESS:
            return render(request, "registration/password_reset_throttled.html", status=429)
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        email = form.cleaned_data["email"].lower()
        throttled = _recent().filter(detail__email=email).count() >= PER_EMAIL
        account = next(iter(form.get_users(email)), None)
        activity.record(
            ACTION, actor=account, request=self.request, detail={"email": email, "throttled": throttled}
        )
        if throttled:
            return HttpResponseRedirect(self.get_success_url())  # the same page as a sent mail
        return super().form_valid(form)


def _recent():
    return Event.objects.filter(action=ACTION, at__gte=timezone.now() - WINDOW)


request_view = mail_required(PasswordResetView.as_view())
done_view = mail_required(auth_views.PasswordResetDoneView.as_view())
confirm_view = mail_required(auth_views.PasswordResetConfirmView.as_view())
complete_view = mail_required(auth_views.PasswordResetCompleteView.as_view())
