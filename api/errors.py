"""Every error as JSON `{"detail": "..."}` with its status (DESIGN.md §12)."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from addons.service import AddonError
from backups.service import Refused as BackupRefused
from jobs.models.job import QueueFull
from servers.console.commands import Refused
from servers.files.errors import FileError
from servers.team.service import TeamError

from .ratelimit import RateLimited


class ApiError(Exception):
    def __init__(self, status, detail):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def install(api):
    """The exception handlers of `api`: one place turns every refusal into its status."""

    def reply(request, status, detail, **headers):
        response = api.create_response(request, {"detail": detail}, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    api.add_exception_handler(ApiError, lambda r, e: reply(r, e.status, e.detail))
    api.add_exception_handler(Http404, lambda r, e: reply(r, 404, str(e) or "Not found."))
    api.add_exception_handler(PermissionDenied, lambda r, e: reply(r, 403, str(e) or "Not allowed."))
    api.add_exception_handler(Refused, lambda r, e: reply(r, e.status, e.reason))
    api.add_exception_handler(FileError, lambda r, e: reply(r, e.status, e.detail))
    api.add_exception_handler(TeamError, lambda r, e: reply(r, e.status, e.reason))
    api.add_exception_handler(BackupRefused, lambda r, e: reply(r, e.status, e.reason))
    api.add_exception_handler(AddonError, lambda r, e: reply(r, e.status, e.detail))
    api.add_exception_handler(QueueFull, lambda r, e: reply(r, 429, str(e)))
    api.add_exception_handler(
        RateLimited, lambda r, e: reply(r, 429, str(e), **{"Retry-After": str(e.retry_after)})
    )
