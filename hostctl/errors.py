"""The one exception lifecycle functions raise for problems a user can fix."""


class HostError(Exception):
    """A clear, user-readable reason an operation cannot run (shown as is)."""
