"""What a file operation can answer besides success, each with its HTTP status.

The game host's refusals are hostctl.files' own classes (raised there, carried back by
the relay as status + detail and raised again here); HostTimeout is the web side's.
"""

from hostctl.files import BadPath, Conflict, FileError, NotFound, TooLarge


class HostTimeout(FileError):
    status = 504


BY_STATUS = {cls.status: cls for cls in (BadPath, NotFound, Conflict, TooLarge, HostTimeout)}


def from_answer(status, detail):
    """The exception a relayed answer with an error `status` stands for."""
    return BY_STATUS.get(status, FileError)(detail)


__all__ = ["BadPath", "Conflict", "FileError", "HostTimeout", "NotFound", "TooLarge", "from_answer"]
