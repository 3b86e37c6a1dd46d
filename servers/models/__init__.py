"""Models of what is about a server: the server and its host, its supervision, its console."""

from .console import CommandKind, CommandOutcome, ConsoleCommand, ConsoleCursor, ConsoleLine, ConsoleStream
from .files import FileBytes, FileRequest
from .members import Invite, ServerMember
from .server import (
    ActualState,
    DesiredState,
    Difficulty,
    GameMode,
    Node,
    Region,
    Server,
    ServerQuerySet,
    UpdatePolicy,
    heard_lately,
    new_rcon_password,
)
from .supervision import (
    CRASH_LOOP_COUNT,
    CRASH_LOOP_WINDOW,
    PAUSED_NOTICE,
    CrashAction,
    CrashReason,
    ServerCrash,
    ServerSample,
    SupervisorBeat,
)

__all__ = [
    "ActualState",
    "CRASH_LOOP_COUNT",
    "CRASH_LOOP_WINDOW",
    "CommandKind",
    "CommandOutcome",
    "ConsoleCommand",
    "ConsoleCursor",
    "ConsoleLine",
    "ConsoleStream",
    "CrashAction",
    "CrashReason",
    "DesiredState",
    "Difficulty",
    "FileBytes",
    "FileRequest",
    "GameMode",
    "Invite",
    "Node",
    "PAUSED_NOTICE",
    "Region",
    "Server",
    "ServerCrash",
    "ServerMember",
    "ServerQuerySet",
    "ServerSample",
    "SupervisorBeat",
    "UpdatePolicy",
    "heard_lately",
    "new_rcon_password",
]
