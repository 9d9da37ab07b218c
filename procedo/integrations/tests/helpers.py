"""Real payload files, signed as each platform signs them, posted over HTTP."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from procedo.integrations import signatures
from procedo.integrations.models import Connection
from procedo.integrations.services import connections as connections_services

# ../shared beside the project: the checkout's parent, or a worktree's grandparent.
WEBHOOKS = next(
    (
        found
        for parent in Path(__file__).resolve().parents
        if (found := parent / "shared" / "data" / "webhooks").is_dir()
    ),
    Path("shared/data/webhooks"),
)
SECRET = "test-secret-0123456789abcdef"


def raw(name: str) -> bytes:
    """A real payload file; a test that needs one is skipped (saying why) on a checkout that
    has no ../shared beside it, as the retail tests are."""
    if not WEBHOOKS.is_dir():
        pytest.skip("../shared/data/webhooks is not beside the project")
    return (WEBHOOKS / name).read_bytes()


def resource(name: str, key: str) -> Any:
    """The bare resource a webhook carries (the REST fixture without its root key)."""
    return json.loads(raw(name))[key]


def body_of(value: Any) -> bytes:
    return json.dumps(value).encode()


def connect(platform: str, name: str = "", secret: str = SECRET) -> Connection:
    return connections_services.connection_create(
        platform=platform, name=name or f"{platform} shop", account="", secret=secret, actor=None
    )


def url(connection: Connection) -> str:
    return f"/hooks/{connection.platform}/{connection.key}/"


def shopify(
    client: Client, connection: Connection, topic: str, body: bytes, webhook_id: str
) -> Any:
    return client.post(
        url(connection),
        body,
        content_type="application/json",
        headers={
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signatures.shopify_sign(SECRET, body),
            "X-Shopify-Webhook-Id": webhook_id,
            "X-Shopify-Shop-Domain": "example.myshopify.com",
        },
    )


def woocommerce(
    client: Client, connection: Connection, topic: str, body: bytes, delivery: str
) -> Any:
    signature = signatures.shopify_sign(SECRET, body)  # the same base64 HMAC-SHA256
    return client.post(
        url(connection),
        body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Signature": signature,
            "X-WC-Webhook-Delivery-ID": delivery,
        },
    )


def stripe(
    client: Client, connection: Connection, event: dict[str, Any], at: int | None = None
) -> Any:
    body = body_of(event)
    return client.post(
        url(connection),
        body,
        content_type="application/json",
        headers={"Stripe-Signature": signatures.stripe_sign(SECRET, body, at or int(time.time()))},
    )


def stripe_event(kind: str, item: dict[str, Any], event_id: str) -> dict[str, Any]:
    """Stripe publishes no event of these types: its fixture envelope with `type` and
    `data.object` replaced (as shared/data/README.md says a test must)."""
    envelope = resource("stripe/fixtures3.json", "resources")["event"]
    return {**envelope, "id": event_id, "type": kind, "data": {"object": item}}


def liqpay_form(private_key: str, payload: dict[str, Any]) -> bytes:
    from urllib.parse import urlencode

    data = base64.b64encode(json.dumps(payload).encode()).decode()
    return urlencode(
        {"data": data, "signature": signatures.liqpay_sign(private_key, data)}
    ).encode()


class LocalApi:
    """A platform's API on loopback: `answer(method, path, body) -> (status, json, headers)`
    scripts it; every request is kept in `seen` as (method, path, headers, body)."""

    def __init__(self, answer: Any) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.seen: list[tuple[str, str, dict[str, str], Any]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                api.seen.append((self.command, self.path, dict(self.headers.items()), body))
                status, payload, headers = answer(self.command, self.path, body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
