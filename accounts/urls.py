"""/accounts/: logging in (password, then the code), out, password reset behind
mail_required; /account/: the account's own pages (account_urlpatterns)."""

from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.generic import RedirectView

from . import pages, password_reset, two_factor_views
from .views import LoginView, login_code

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("login/code/", login_code, name="login_code"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The password is changed on the account pages now; old links and bookmarks land there.
    path("password_change/", RedirectView.as_view(url="/account/password"), name="password_change"),
    path("password_change/done/", RedirectView.as_view(url="/account/"), name="password_change_done"),
    path("password_reset/", password_reset.request_view, name="password_reset"),
    path("password_reset/done/", password_reset.done_view, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", password_reset.confirm_view, name="password_reset_confirm"),
    path("reset/done/", password_reset.complete_view, name="password_reset_complete"),
]

account_urlpatterns = [
    path("", pages.overview, name="account"),
    path("password", pages.password, name="account_password"),
    path("activity", pages.activity_page, name="account_activity"),
    path("two-factor", two_factor_views.page, name="account_two_factor"),
    path("two-factor/setup", two_factor_views.setup, name="account_two_factor_setup"),
    path("two-factor/confirm", two_factor_views.confirm, name="account_two_factor_confirm"),
    path("two-factor/recovery-codes", two_factor_views.recovery_codes, name="account_recovery_codes"),
    path("two-factor/disable", two_factor_views.disable, name="account_two_factor_disable"),
]

# The admin has no login form of its own: /admin/login/ is this one (same throttle, same
# code step), and goes back to the admin afterwards.
admin_login = LoginView.as_view(next_page="/admin/")
