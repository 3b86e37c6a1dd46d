from axes.utils import reset as reset_failed_logins
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin

User = get_user_model()


@admin.action(description="Unlock logins (forget their failed logins from every address)")
def unlock_logins(modeladmin, request, queryset):
    names = [user.get_username() for user in queryset]
    forgotten = sum(reset_failed_logins(username=name) for name in names)
    modeladmin.message_user(
        request,
        f"Unlocked {', '.join(names)} ({forgotten} failed-login records forgotten).",
        messages.SUCCESS,
    )


# Django's own user admin, with the unlock action added: a locked-out staff member is
# unlocked by another in two clicks, without a shell (Axes → Access attempts shows the
# records themselves, per address and browser).
admin.site.unregister(User)


@admin.register(User)
class PanelUserAdmin(UserAdmin):
    actions = [unlock_logins]
