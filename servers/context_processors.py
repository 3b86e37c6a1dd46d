from django.conf import settings


def host_mode(request):
    """Every page shows when the host is simulated, so nobody mistakes it for real."""
    return {"hostctl_simulate": settings.HOSTCTL_SIMULATE}
