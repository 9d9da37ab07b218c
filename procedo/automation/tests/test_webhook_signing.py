"""Outgoing SOP webhooks are signed: a loopback receiver checks them as a store's server would."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from django.core.management import call_command

from procedo.automation.models import Run, RunState, WebhookKey
from procedo.automation.services import signing
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import engine_drain, event_trigger, order, sop_live

pytestmark = pytest.mark.django_db(transaction=True)


class _Receiver(BaseHTTPRequestHandler):
    """Checks the signature with nothing but the secret and hashlib, then answers 200 or 401."""

    secret = ""
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        header = self.headers.get("Procedo-Signature", "")
        fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
        timestamp = fields.get("t", "0")
        expected = hmac.new(
            type(self).secret.encode(), timestamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        fresh = abs(time.time() - int(timestamp)) <= signing.TOLERANCE
        valid = hmac.compare_digest(expected, fields.get("v1", "")) and fresh
        type(self).seen.append(
            {
                "valid": valid,
                "timestamp": self.headers.get("Procedo-Timestamp"),
                "t": timestamp,
                "body": json.loads(raw),
            }
        )
        self.send_response(200 if valid else 401)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@pytest.fixture
def receiver() -> Iterator[str]:
    _Receiver.seen = []
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _webhook_sop(url: str) -> None:
    sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [{"kind": "webhook", "key": "notify", "title": "Notify", "url": url}],
        }
    )


def test_a_webhook_carries_a_signature_the_receiver_verifies(quiet: None, receiver: str) -> None:
    _Receiver.secret = signing.webhook_secret()
    _webhook_sop(receiver)
    made = order()
    engine_drain()
    executor.runs_advance_all()
    [call] = _Receiver.seen
    assert call["valid"] and call["timestamp"] == call["t"]
    assert call["body"]["subject_id"] == made.pk
    assert Run.objects.get(subject_id=made.pk).state == RunState.COMPLETED


def test_a_receiver_with_another_secret_refuses_the_call(quiet: None, receiver: str) -> None:
    _Receiver.secret = "whsec_not_the_one"
    _webhook_sop(receiver)
    made = order()
    engine_drain()
    executor.runs_advance_all()
    assert [call["valid"] for call in _Receiver.seen] == [False]
    # 401 is a 4xx: retrying cannot help, so the run fails and says so.
    assert Run.objects.get(subject_id=made.pk).state == RunState.FAILED


def test_the_secret_is_made_once_and_kept() -> None:
    first = signing.webhook_secret()
    assert first.startswith("whsec_") and len(first) > 40
    assert signing.webhook_secret() == first
    assert WebhookKey.objects.count() == 1


def test_verify_refuses_a_changed_body_an_old_timestamp_and_a_bad_header() -> None:
    secret, body, now = "whsec_test", b'{"run_id": 1}', 1_750_000_000
    header = signing.webhook_headers(body, secret=secret, now=now)[signing.SIGNATURE_HEADER]
    assert signing.webhook_verify(body, header, secret=secret, now=now + 10)
    assert not signing.webhook_verify(b'{"run_id": 2}', header, secret=secret, now=now)
    assert not signing.webhook_verify(body, header, secret="whsec_other", now=now)
    assert not signing.webhook_verify(body, header, secret=secret, now=now + signing.TOLERANCE + 1)
    assert not signing.webhook_verify(body, "v1=abc", secret=secret, now=now)


def test_the_command_prints_the_secret(capsys: pytest.CaptureFixture[str]) -> None:
    call_command("webhook_secret")
    assert capsys.readouterr().out.strip() == signing.webhook_secret()
