"""SMS behind one provider interface; Twilio's Messages API is the real one.

Twilio (https://www.twilio.com/docs/messaging/api/message-resource):
POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json, form fields To, From,
Body, StatusCallback, HTTP Basic auth (AccountSid:AuthToken). 201 answers the
Message resource as JSON (`sid`, `status` "queued"/"accepted", `error_code`); an
error answers `{"code", "message", "more_info", "status"}`. Delivery callbacks POST
`MessageSid`, `MessageStatus` (queued, sent, delivered, undelivered, failed) and
`ErrorCode`, signed in `X-Twilio-Signature`: base64(HMAC-SHA1(AuthToken, URL +
every POST parameter name and value, sorted by name)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

from django.conf import settings
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError, NotFound, PermissionDenied
from procedo.messaging.models import Message, MessageState, Provider

E164 = re.compile(r"^\+[1-9]\d{6,14}$")


def e164_require(number: str, *, field: str = "recipient") -> str:
    number = number.strip()
    if not E164.match(number):
        raise DomainError(
            field=field,
            message=_("%(n)s is not a phone number in E.164 form, e.g. +380671234567.")
            % {"n": number or "''"},
        )
    return number


# The answers Twilio documents as "not taken, try again": too many requests, and
# the service unavailable. Only these are retried: an SMS has no Message-ID a
# phone could dedupe a second copy on, so whatever may have reached the provider
# ends `unknown` for a person to decide, and is never sent again by itself.
RETRY_STATUSES = frozenset({429, 503})


class SmsProvider(Protocol):
    name: str

    def send(self, *, to: str, body: str, status_callback: str) -> Any: ...


class TwilioProvider:
    name: str = Provider.TWILIO

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def send(self, *, to: str, body: str, status_callback: str) -> Any:
        from procedo.messaging.transports import Outcome, TransportDown

        cfg = self.config
        url = f"{cfg['base_url']}/2010-04-01/Accounts/{cfg['account_sid']}/Messages.json"
        sender = cfg["from"]
        form = {"To": to, "Body": body, "StatusCallback": status_callback}
        # A Messaging Service SID (MG…) goes in its own field; a number in From.
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        credentials = f"{cfg['account_sid']}:{cfg['auth_token']}".encode()
        # The base URL comes from SMS_URL, whose parser allows only http(s).
        request = urllib.request.Request(  # noqa: S310
            url,
            data=urlencode(form).encode(),
            method="POST",
            headers={
                "Authorization": "Basic " + base64.b64encode(credentials).decode(),
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        try:
            try:
                with urllib.request.urlopen(request, timeout=cfg["timeout"]) as response:  # noqa: S310
                    status, raw = response.status, response.read()
            except urllib.error.HTTPError as exc:
                status, raw = exc.code, exc.read()
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError | socket.gaierror):
                raise TransportDown(f"{type(exc.reason).__name__}: {exc.reason}") from exc
            # The request may have reached Twilio before the answer was lost.
            return Outcome(MessageState.UNKNOWN, f"{type(exc.reason).__name__}: {exc.reason}")
        except TimeoutError as exc:
            return Outcome(MessageState.UNKNOWN, f"timeout: {exc}")
        except (OSError, http.client.HTTPException) as exc:
            # The request went; the answer was cut off (reset, closed, a partial body).
            return Outcome(MessageState.UNKNOWN, f"{type(exc).__name__}: {exc}")
        try:
            data = json.loads(raw or b"{}")
        except ValueError:
            data = {}
        if 200 <= status < 300:
            return Outcome(
                MessageState.SENT,
                f"{status} {data.get('status', '')}".strip(),
                provider_ref=str(data.get("sid", "")),
            )
        answer = f"{status} {data.get('code', '')} {data.get('message', raw[:200])}".strip()
        if status in RETRY_STATUSES:
            return Outcome(MessageState.QUEUED, answer)
        if status >= 500:
            # A 500, or a gateway's 502/504, may come after Twilio created the message.
            return Outcome(MessageState.UNKNOWN, answer)
        return Outcome(MessageState.FAILED, answer)


class SmsTransport:
    """Adapts a provider to the sender's transport interface."""

    def __init__(self, provider: SmsProvider) -> None:
        self.provider = provider
        self.name = provider.name

    def send(self, message: Message, payload: bytes) -> Any:
        from procedo.messaging.transports import Outcome

        try:
            to = e164_require(message.recipient)
        except DomainError as exc:
            return Outcome(MessageState.FAILED, exc.message)
        return self.provider.send(
            to=to, body=message.body, status_callback=status_callback_url(message)
        )

    def close(self) -> None:
        pass


def provider_from_settings() -> SmsProvider | None:
    config = getattr(settings, "PROCEDO_SMS", None)
    return TwilioProvider(config) if config else None


def status_callback_url(message: Message) -> str:
    return f"{settings.PROCEDO_BASE_URL}/messages/sms/status/"


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    signed = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def twilio_request_verify(*, url: str, params: Mapping[str, str], signature: str) -> None:
    """A callback from the configured provider, or a refusal (no provider, a bad signature)."""
    config = getattr(settings, "PROCEDO_SMS", None)
    if not config:
        raise NotFound(field="provider", message=_("No SMS provider is configured."))
    expected = twilio_signature(config["auth_token"], url, params)
    if not hmac.compare_digest(expected, signature):
        raise PermissionDenied(field="X-Twilio-Signature", message=_("Bad signature."))
