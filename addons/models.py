"""The addons' rows (the files themselves live on the game host, read and written by its worker)."""

from .workshop_models import WorkshopItem, WorkshopState  # noqa: F401
