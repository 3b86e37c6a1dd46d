"""File changes made by people (pages and API alike): the relay call, then its activity event.

The event names what changed (paths, sizes), never a file's contents. It is recorded
once the game host has answered: the change is on disk by then, so it is no longer
a change that may yet be refused.
"""

import activity

from . import relay


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
