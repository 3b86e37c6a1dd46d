"""/accounts/: Django's auth pages, with password reset behind mail_required."""

from django.contrib.auth import views as auth_views
from django.urls import path

from . import password_reset
from .views import LoginView

urlpatterns = [
    path("login/", LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("password_reset/", password_reset.request_view, name="password_reset"),
    path("password_reset/done/", password_reset.done_view, name="password_reset_done"),
    path("reset/<uidb64>/<token>/", password_reset.confirm_view, name="password_reset_confirm"),
    path("reset/done/", password_reset.complete_view, name="password_reset_complete"),
]
