"""SMS through Twilio's Messages API, against a local stand-in that answers as documented."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.conf import settings
from django.test import Client

from procedo.core.errors import DomainError
from procedo.messaging import sending
from procedo.messaging.models import Message, MessageState
from procedo.messaging.services import message_queue
from procedo.messaging.sms import twilio_signature
from procedo.testing import free_port

pytestmark = pytest.mark.django_db
SID, TOKEN = "AC0123456789abcdef0123456789abcdef", "secret-token"


class Twilio(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []
    reply: tuple[int, dict[str, Any]] | None = None

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = {k: v[-1] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        Twilio.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "form": form}
        )
        status, body = Twilio.reply or (
            201,
            {
                "sid": f"SM{len(Twilio.requests):032d}",
                "status": "queued",
                "to": form["To"],
                "from": form.get("From"),
                "body": form["Body"],
                "error_code": None,
                "error_message": None,
                "account_sid": SID,
                "api_version": "2010-04-01",
            },
        )
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Twilio]]:
    Twilio.requests, Twilio.reply = [], None
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Twilio)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setattr(
        settings,
        "PROCEDO_SMS",
        {
            "provider": "twilio",
            "base_url": f"http://127.0.0.1:{server.server_port}",
            "account_sid": SID,
            "auth_token": TOKEN,
            "from": "+15005550006",
            "timeout": 5.0,
        },
    )
    yield Twilio
    server.shutdown()
    server.server_close()


def sms(key: str = "s:1", to: str = "+380671234567") -> Message:
    return message_queue(
        channel="sms", recipient=to, body="Ваше замовлення вже в дорозі", idempotency_key=key
    )


def test_an_sms_goes_to_twilio_as_documented(twilio: type[Twilio]) -> None:
    message = sms()
    assert sending.messages_send_due(channels=("sms",)).sent == 1
    [request] = twilio.requests
    assert request["path"] == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert request["auth"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert request["form"] == {
        "To": "+380671234567",
        "From": "+15005550006",
        "Body": "Ваше замовлення вже в дорозі",
        "StatusCallback": f"{settings.PROCEDO_BASE_URL}/messages/sms/status/",
    }
    message.refresh_from_db()
    assert message.state == MessageState.SENT and message.provider_ref == "SM" + "0" * 31 + "1"
    assert message.answer == "201 queued"


def test_a_twilio_error_fails_and_a_5xx_retries(twilio: type[Twilio]) -> None:
    bad, busy = sms("s:1"), sms("s:2", "+380671234568")
    twilio.reply = (400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
    sending.messages_send_batch(channel="sms", limit=1)
    twilio.reply = (503, {"code": 20503, "message": "Service unavailable", "status": 503})
    sending.messages_send_batch(channel="sms", limit=1)
    bad.refresh_from_db()
    busy.refresh_from_db()
    assert bad.state == MessageState.FAILED and bad.answer == "400 21211 Invalid 'To' Phone Number"
    assert busy.state == MessageState.QUEUED and busy.deferred_until is not None


def test_a_number_not_in_e164_is_refused_with_a_clear_error() -> None:
    for number in ("0671234567", "+0671234567", "380 67 123 45 67", ""):
        with pytest.raises(DomainError) as caught:
            sms(to=number)
        assert caught.value.field == "recipient"
        assert number == "" or "E.164" in caught.value.message
    assert not Message.objects.exists()


def test_a_signed_delivery_callback_updates_the_ledger(twilio: type[Twilio]) -> None:
    message = sms()
    sending.messages_send_due(channels=("sms",))
    message.refresh_from_db()
    url = f"{settings.PROCEDO_BASE_URL}/messages/sms/status/"
    client = Client(enforce_csrf_checks=True)

    def callback(status: str, signature: str | None = None, **extra: str) -> int:
        params = {"MessageSid": message.provider_ref, "MessageStatus": status, "AccountSid": SID}
        params.update(extra)
        signature = signature or twilio_signature(TOKEN, url, params)
        return client.post(
            "/messages/sms/status/", params, headers={"X-Twilio-Signature": signature}
        ).status_code

    assert callback("delivered", signature="forged") == 403
    assert callback("delivered") == 204
    message.refresh_from_db()
    assert (message.state, message.delivery_status) == ("sent", "delivered")
    assert callback("undelivered", ErrorCode="30003") == 204
    message.refresh_from_db()
    assert message.state == MessageState.FAILED and message.answer == "undelivered 30003"
