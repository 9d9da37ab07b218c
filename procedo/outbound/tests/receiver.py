"""A real HTTP server on loopback that receives webhook deliveries, for tests."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Receiver:
    """Answers each POST with `answer(request)` (200 unless told) and keeps what came."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    answer: Callable[[Received], int] = lambda _request: 200

    def event_ids(self) -> list[str]:
        return [r.headers["Procedo-Event-Id"] for r in self.received]


def receiver_start() -> tuple[Receiver, Callable[[], None]]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            request = Received(self.path, dict(self.headers.items()), body, 0)
            request.status = receiver.answer(request)
            receiver.received.append(request)
            self.send_response(request.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/procedo"

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return receiver, stop
