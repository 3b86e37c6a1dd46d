"""A local stand-in for the Steam Web API's Workshop calls and Steam's download host.

Answers `POST /ISteamRemoteStorage/GetPublishedFileDetails/v1/` and
`POST /ISteamRemoteStorage/GetCollectionDetails/v1/` (form fields as the real API takes
them, JSON as it answers: docs/reference/workshop.md) about the items of workshop_items.py,
and serves each item's VPK at the `file_url` it gives (`/ugc/<id>/`, on this same server).
A private or unknown item is `"result": 9` with no other field, as Steam answers.

    python hostctl/sim/steam_web.py [--port N]     # prints "Listening on http://127.0.0.1:N"

Tests start it in a thread with `serve()`. Stdlib and the `vpk` library only.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

if __package__:
    from . import workshop_items as catalogue
else:  # run as a script: this file's folder is sys.path[0]
    import workshop_items as catalogue

DETAILS = "/ISteamRemoteStorage/GetPublishedFileDetails/v1/"
COLLECTIONS = "/ISteamRemoteStorage/GetCollectionDetails/v1/"
_FILE = re.compile(r"^/ugc/(\d+)/$")
SLOW_CHUNK = 64 * 1024
SLOW_PAUSE = 0.05  # between the slow file's chunks: 4 MB take about 3 s


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # quiet: tests read their own output
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        ids = [form[key][0] for key in sorted(form) if key.startswith("publishedfileids[")]
        if self.path == DETAILS:
            if any(catalogue.ITEMS.get(i, catalogue.SimItem(i, "")).slow_api for i in ids):
                time.sleep(catalogue.SLOW_API_SECONDS)
            details = [self.details(i) for i in ids]
            self.json({"response": {"result": 1, "resultcount": len(ids), "publishedfiledetails": details}})
        elif self.path == COLLECTIONS:
            found = [self.collection(i) for i in ids]
            self.json({"response": {"result": 1, "resultcount": len(ids), "collectiondetails": found}})
        else:
            self.send_error(404)

    def do_GET(self) -> None:
        match = _FILE.match(self.path)
        item = catalogue.ITEMS.get(match.group(1)) if match else None
        if item is None or item.private or not item.file_url:
            self.send_error(404)
            return
        data = catalogue.vpk_bytes(item)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            if not item.slow_file:
                self.wfile.write(data)
                return
            for start in range(0, len(data), SLOW_CHUNK):
                self.wfile.write(data[start : start + SLOW_CHUNK])
                time.sleep(SLOW_PAUSE)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the downloader hung up (a cancel): nothing to finish

    def details(self, item_id: str) -> dict:
        item = catalogue.ITEMS.get(item_id)
        if item is None or item.private:
            return {"publishedfileid": item_id, "result": 9}
        host = self.headers.get("Host", "127.0.0.1")
        return {
            "publishedfileid": item.id,
            "result": 1,
            "creator": "76561197960287930",
            "creator_app_id": 550,
            "consumer_app_id": 550,
            "filename": f"{item.name}.vpk" if item.file_url else "",
            "file_size": str(len(catalogue.vpk_bytes(item))),
            "file_url": f"http://{host}/ugc/{item.id}/" if item.file_url else "",
            "hcontent_file": str(int(item.id) * 7),
            "preview_url": "",
            "hcontent_preview": "0",
            "title": item.title,
            "description": f"{item.title}, a campaign of the simulator.",
            "time_created": item.time_updated - 86400,
            "time_updated": item.time_updated,
            "visibility": 0,
            "banned": 0,
            "ban_reason": "",
            "subscriptions": 1,
            "favorited": 0,
            "lifetime_subscriptions": 1,
            "lifetime_favorited": 0,
            "views": 1,
            "tags": [{"tag": "Campaigns"}, {"tag": "Co-op"}],
        }

    @staticmethod
    def collection(item_id: str) -> dict:
        children = catalogue.CHILDREN.get(item_id)
        if children is None:
            return {"publishedfileid": item_id, "result": 9}
        listed = [{"publishedfileid": c, "sortorder": n, "filetype": 0} for n, c in enumerate(children, 1)]
        return {"publishedfileid": item_id, "result": 1, "children": listed}

    def json(self, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(port: int = 0) -> ThreadingHTTPServer:
    """Start the server in a daemon thread; its address is `server.server_address`."""
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="steam-web-sim", daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    port = parser.parse_args().port
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    print(f"Listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
