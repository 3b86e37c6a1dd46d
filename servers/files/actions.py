"""What people do with a server's files, pages and API alike: the relay call, and around it
the rules that are about people rather than paths.

A change is recorded as an activity event naming what changed (paths, sizes), never a
file's contents, once the game host has answered (the change is on disk by then). A file
that can hold the RCON password (server.cfg, console.log) is given only to those who may
see the password: `files.read` alone does not reveal what `rcon.reveal` guards.
"""

import activity
from hostctl.files import SECRET_FILES

from ..access import require
from . import relay


def read(server, user, path):
    content = relay.read_file(server, path)
    if content.path in SECRET_FILES:  # the host's canonical path: a symlink to it counts too
        require(user, server, "rcon.reveal")
    return content


def write(server, user, path, data, *, expected_sha256=None, uploaded=False, request=None):
    written = relay.write_file(server, path, data, expected_sha256=expected_sha256)
    action = "file.uploaded" if uploaded else "file.written"
    _record(action, server, user, request, {"path": written["path"], "size": written["size"]})
    return written


def rename(server, user, source, target, *, request=None):
    renamed = relay.rename(server, source, target)
    _record("file.renamed", server, user, request, {"from": source, "to": renamed["path"]})
    return renamed


def mkdir(server, user, path, *, request=None):
    made = relay.mkdir(server, path)
    _record("folder.created", server, user, request, {"path": made["path"]})
    return made


def delete(server, user, paths, *, request=None):
    deleted = relay.delete(server, paths)
    _record("file.deleted", server, user, request, {"paths": deleted["deleted"]})
    return deleted


def _record(action, server, user, request, detail):
    activity.record(action, actor=user, server=server, request=request, detail=detail)
