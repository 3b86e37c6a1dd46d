"""A server's files (DESIGN.md §13), through the worker of its node (servers.files)."""

from django.http import HttpResponse
from ninja import Field, Router, Schema

from servers.access import server_for_user
from servers.files import actions, relay
from servers.files.errors import TooLarge
from servers.l4d2_facade import file_max_bytes

router = Router(tags=["files"])


class RenameIn(Schema):
    source: str = Field(alias="from")
    to: str


class PathIn(Schema):
    path: str


class PathsIn(Schema):
    paths: list[str]


@router.get("/servers/{int:server_id}/files", url_name="files")
def list_files(request, server_id: int, path: str = ""):
    """Every entry of the folder `path` (the server's folder if empty): folders first, then by name."""
    return relay.list_dir(server_for_user(request.user, server_id, "files.read"), path)


@router.get("/servers/{int:server_id}/files/content", url_name="file_content")
def file_content(request, server_id: int, path: str = ""):
    """The file's bytes; its sha256 is the ETag (send it back as If-Match to write only over it).
    server.cfg and console.log, which can hold the RCON password, also need `rcon.reveal`."""
    content = actions.read(server_for_user(request.user, server_id, "files.read"), request.user, path)
    response = HttpResponse(content.data, content_type="application/octet-stream")
    response["ETag"] = f'"{content.sha256}"'
    return response


RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.put("/servers/{int:server_id}/files/content", url_name="file_write", openapi_extra=RAW_BODY)
def file_write(request, server_id: int, path: str = ""):
    """Replace (or make) the file with the request's body, as it is; 413 over L4D2_FILE_MAX_MB.
    With `If-Match: "<sha256>"`, 409 if the file on disk is not that one any more."""
    target = server_for_user(request.user, server_id, "files.update")
    limit = file_max_bytes()
    declared = int(request.META.get("CONTENT_LENGTH") or 0)
    # Read here, not through request.body (capped at DATA_UPLOAD_MAX_MEMORY_SIZE, 2.5 MB).
    data = request.read(limit + 1) if declared <= limit else b""
    if declared > limit or len(data) > limit:
        raise TooLarge(f"Files of at most {limit // 1024 // 1024} MiB move through the panel.")
    expected = request.headers.get("If-Match", "").strip('"') or None
    return actions.write(target, request.user, path, data, expected_sha256=expected, request=request)


@router.post("/servers/{int:server_id}/files/rename", url_name="file_rename")
def file_rename(request, server_id: int, body: RenameIn):
    target = server_for_user(request.user, server_id, "files.update")
    return actions.rename(target, request.user, body.source, body.to, request=request)


@router.post("/servers/{int:server_id}/files/mkdir", url_name="file_mkdir")
def file_mkdir(request, server_id: int, body: PathIn):
    target = server_for_user(request.user, server_id, "files.update")
    return actions.mkdir(target, request.user, body.path, request=request)


@router.post("/servers/{int:server_id}/files/delete", url_name="file_delete")
def file_delete(request, server_id: int, body: PathsIn):
    target = server_for_user(request.user, server_id, "files.update")
    return actions.delete(target, request.user, body.paths, request=request)
