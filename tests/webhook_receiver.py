"""A real HTTP receiver for webhook tests: http.server in a thread on 127.0.0.1, answers scripted."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """Records every POST (path, headers, JSON body) and answers with the next scripted status.

    `answers`: statuses for the first requests (then 204). `gate`: when set, requests wait
    for it to open before answering (a slow receiver).
    """

    def __init__(self, answers=(), gate=None):
        self.answers = list(answers)
        self.gate = gate
        self.requests = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body))
                    status = receiver.answers.pop(0) if receiver.answers else 204
                if receiver.gate is not None:
                    receiver.gate.wait(30)
                answer = b"" if status == 204 else b"not today"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook?token=abc"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.gate is not None:
            self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    @property
    def bodies(self):
        with self.lock:
            return [body for _, _, body in self.requests]
