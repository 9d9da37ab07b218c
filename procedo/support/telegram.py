"""The support bot on Telegram: its webhook in, `sendMessage` out.

Telegram's Bot API (https://core.telegram.org/bots/api): `setWebhook` is given a
`secret_token`, and every webhook POST carries it back in the header
`X-Telegram-Bot-Api-Secret-Token`; the body is one JSON `Update`
(`update_id`, and `message` with `message_id`, `from`, `chat` {`id`}, `date`, `text`).
A reply is `POST {api}/bot<token>/sendMessage` with JSON `{chat_id, text}`;
the answer is `{"ok": true, "result": Message}` or `{"ok": false, "error_code",
"description"}`.

A reply is an `Entry` marked `queued`; one sender takes it with a compare-and-set
(queued → sending) before the request, so a retry, a second worker or a double
click never sends it twice. The connection dying after the request went out
leaves it `unknown` for a person, never re-sent by itself.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import urllib.error
import urllib.request
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.core.errors import DomainError, PermissionDenied
from procedo.core.texts import LaterText, text_for_storing
from procedo.events.services.recording import event_record
from procedo.support.models import DeliveryState, Entry, SupportChannel, TelegramUpdate
from procedo.support.services.intake import Incoming, message_receive

logger = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATE_MAX = 1024 * 1024  # Telegram's updates are a few KB; a larger body is not one
TEXT_MAX = 4096  # sendMessage's limit on a message's text
TIMEOUT = 10.0
BATCH = 50


def _config() -> dict[str, str]:
    return dict(getattr(settings, "PROCEDO_TELEGRAM", {}))


def secret_verify(given: str) -> None:
    """The webhook's secret header, compared in constant time; no secret set refuses all."""
    expected = _config().get("webhook_secret", "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise PermissionDenied(
            field=SECRET_HEADER, message=_("The Telegram secret token is missing or wrong.")
        )


def _name(sender: dict[str, Any]) -> str:
    parts = [str(sender.get("first_name") or ""), str(sender.get("last_name") or "")]
    return " ".join(p for p in parts if p).strip()[:150]


def update_receive(*, secret: str, body: bytes) -> Entry | None:
    """One webhook call: the secret checked first (nothing stored without it), the Update
    kept as sent, and a message's text put in the inbox. Telegram redelivers an update
    until it gets a 2xx, so the same update_id is the same entry."""
    secret_verify(secret)
    if len(body) > UPDATE_MAX:
        raise DomainError(field="update", code="too_large", message=_("The update is too large."))
    try:
        update = json.loads(body)
        update_id = int(update["update_id"])
    except (ValueError, TypeError, KeyError):
        raise DomainError(
            field="update_id", message=_("Not a Telegram Update: it has no update_id.")
        ) from None
    with transaction.atomic():
        TelegramUpdate.objects.get_or_create(update_id=update_id, defaults={"raw": update})
        message = update.get("message") or update.get("edited_message")
        if not isinstance(message, dict) or not isinstance(message.get("chat"), dict):
            return None  # a callback, a member change …: kept above, nothing for the inbox
        chat_id = message["chat"].get("id")
        if not isinstance(chat_id, int):
            raise DomainError(field="chat", message=_("The message names no chat id."))
        text, text_stored = text_for_storing(
            message.get("text")
            or message.get("caption")
            or LaterText(gettext_noop("(a message without text)"))
        )
        sender = message.get("from") if isinstance(message.get("from"), dict) else {}
        return message_receive(
            Incoming(
                channel=SupportChannel.TELEGRAM,
                address=str(chat_id),
                body=str(text),
                body_text=text_stored,
                name=_name(sender or {}),
                external_id=str(message.get("message_id", "")),
                idempotency_key=f"telegram:{update_id}",
            )
        )


def _post(method: str, payload: dict[str, Any]) -> dict[str, Any]:
    config = _config()
    url = f"{config.get('api_url', '')}/bot{config.get('token', '')}/{method}"
    request = urllib.request.Request(  # noqa: S310 (the Bot API's https address, or a test's)
        url,
        data=json.dumps(payload, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            return dict(json.loads(response.read() or b"{}"))
    except urllib.error.HTTPError as exc:  # the Bot API answers errors as JSON too
        try:
            return dict(json.loads(exc.read() or b"{}"))
        except ValueError:
            return {"ok": False, "description": f"HTTP {exc.code}"}


def _claim(entry_id: int) -> bool:
    return (
        Entry.objects.filter(pk=entry_id, delivery=DeliveryState.QUEUED).update(
            delivery=DeliveryState.SENDING
        )
        == 1
    )


def _finish(entry: Entry, state: str, answer: str, external_id: str = "") -> None:
    with transaction.atomic():
        Entry.objects.filter(pk=entry.pk, delivery=DeliveryState.SENDING).update(
            delivery=state, delivery_answer=answer[:500], external_id=external_id[:64]
        )
        event_record(
            event_type=f"conversation.reply_{state}",
            subject=entry.conversation,
            customer_id=entry.conversation.customer_id,
            payload={"entry": entry.pk, "channel": "telegram", "answer": answer[:200]},
        )


def telegram_send_due(*, limit: int = BATCH) -> dict[str, int]:
    """Send the queued Telegram replies; returns how many ended in each state."""
    counts = {"sent": 0, "failed": 0, "unknown": 0, "queued": 0}
    due = list(
        Entry.objects.select_related("conversation")
        .filter(delivery=DeliveryState.QUEUED)
        .order_by("id")[:limit]
    )
    for entry in due:
        if not _claim(entry.pk):
            continue  # another sender took it
        payload = {"chat_id": int(entry.conversation.address), "text": entry.body[:TEXT_MAX]}
        try:
            answer = _post("sendMessage", payload)
        except (urllib.error.URLError, ConnectionRefusedError) as exc:
            if isinstance(getattr(exc, "reason", None), TimeoutError | socket.timeout):
                _finish(entry, DeliveryState.UNKNOWN, str(exc))
                counts["unknown"] += 1
                continue
            # Nothing reached the Bot API: the reply waits for the next try.
            Entry.objects.filter(pk=entry.pk, delivery=DeliveryState.SENDING).update(
                delivery=DeliveryState.QUEUED, delivery_answer=str(exc)[:500]
            )
            counts["queued"] += 1
            continue
        except (TimeoutError, OSError) as exc:
            _finish(entry, DeliveryState.UNKNOWN, str(exc))
            counts["unknown"] += 1
            continue
        if answer.get("ok"):
            result = answer.get("result") or {}
            _finish(entry, DeliveryState.SENT, "ok", str(result.get("message_id", "")))
            counts["sent"] += 1
        else:
            _finish(entry, DeliveryState.FAILED, str(answer.get("description", "")))
            counts["failed"] += 1
    return counts


def _send_now() -> None:
    try:
        telegram_send_due()
    except Exception:  # the periodic task sends what this missed
        logger.exception("sending Telegram replies failed; the minute's task will retry")


def telegram_send_on_commit() -> None:
    """After the reply commits, send it (the periodic task is the guarantee)."""
    pending = connection.run_on_commit
    if pending and pending[-1][1] is _send_now:
        return
    transaction.on_commit(_send_now, robust=True)
