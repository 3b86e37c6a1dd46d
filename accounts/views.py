from django.conf import settings
from django.contrib.auth import views as auth_views


class LoginView(auth_views.LoginView):
    def get_context_data(self, **kwargs):
        # The "Forgot your password?" link, only where a reset can send its mail.
        return super().get_context_data(password_reset=settings.PASSWORD_RESET_ENABLED, **kwargs)
