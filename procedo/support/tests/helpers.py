"""A local server speaking the Telegram Bot API's format, and updates as Telegram sends them."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from django.test import Client

BOT_TOKEN = "123456:TEST-bot-token"
SECRET = "s3cret_Webhook-token"


class BotApi:
    """Records every method call; answers `sendMessage` as the Bot API documents."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_with: str = ""  # a description: answer {"ok": false, …}
        self.lock = threading.Lock()

    def answer(self, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            self.calls.append((path, body))
            if not path.startswith(f"/bot{BOT_TOKEN}/"):
                return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
            if self.fail_with:
                return 400, {"ok": False, "error_code": 400, "description": self.fail_with}
            return 200, {
                "ok": True,
                "result": {
                    "message_id": 1000 + len(self.calls),
                    "from": {"id": 123456, "is_bot": True, "first_name": "Shop"},
                    "chat": {"id": body.get("chat_id"), "type": "private"},
                    "date": 1_780_000_000,
                    "text": body.get("text", ""),
                },
            }

    def sent(self) -> list[dict[str, Any]]:
        with self.lock:
            return [body for path, body in self.calls if path.endswith("/sendMessage")]


@contextmanager
def bot_api() -> Iterator[tuple[BotApi, str]]:
    api = BotApi()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            status, answer = api.answer(self.path, body)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield api, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def update(update_id: int, chat_id: int, text: str, *, first_name: str = "Марко") -> dict:
    """An Update with a private text message, in the documented shape."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1000,
            "from": {"id": chat_id, "is_bot": False, "first_name": first_name},
            "chat": {"id": chat_id, "type": "private", "first_name": first_name},
            "date": 1_780_000_000,
            "text": text,
        },
    }


def post_update(client: Client, body: dict, *, secret: str = SECRET) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret else {}
    response = client.post(
        "/support/hooks/telegram/", json.dumps(body), content_type="application/json",
        headers=headers,
    )  # fmt: skip
    return response.status_code
