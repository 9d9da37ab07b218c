"""How the log tells what happened to messages: queued, sent, delivered, received."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.messaging.models import Channel, InboundMessage, Message


def _messages(ids: Sequence[int]) -> Mapping[int, str]:
    rows = Message.objects.filter(pk__in=ids).values_list("pk", "subject", "recipient")
    return {pk: subject or recipient for pk, subject, recipient in rows}


def _inbound(ids: Sequence[int]) -> Mapping[int, str]:
    rows = InboundMessage.objects.filter(pk__in=ids).values_list("pk", "subject", "sender")
    return {pk: subject or sender for pk, subject, sender in rows}


def _channel(value: Any) -> str:
    try:
        return str(Channel(value).label)
    except ValueError:
        return str(value or "")


def _message(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {
        "channel": _channel(payload.get("channel")),
        "to": payload.get("to") or "",
        "reason": payload.get("reason") or "",
        "status": payload.get("status") or "",
        "from": payload.get("from") or "",
    }


def timeline_register() -> None:
    subject_register("message", names=_messages, url_name="messaging:detail")
    subject_register("inboundmessage", names=_inbound, url_name="messaging:inbound-detail")
    sentence = sentence_register
    sentence(
        "message.queued",
        gettext_lazy("%(channel)s “%(subject)s” to %(to)s is waiting to be sent"),
        _message,
    )
    sentence("message.sent", gettext_lazy("%(channel)s “%(subject)s” was sent"), _message)
    sentence(
        "message.suppressed",
        gettext_lazy("“%(subject)s” was not sent: %(reason)s"),
        _message,
    )
    sentence(
        "message.unknown",
        gettext_lazy("Whether “%(subject)s” reached its recipient is unknown; a person decides"),
    )
    sentence("message.requeued", gettext_lazy("“%(subject)s” will be sent again"))
    sentence(
        "message.delivery_updated",
        gettext_lazy("“%(subject)s”: the provider says %(status)s"),
        _message,
    )
    sentence(
        "message.marked_sent",
        gettext_lazy("%(actor)s confirmed that “%(subject)s” arrived"),
    )
    sentence(
        "message.resend_requested",
        gettext_lazy("%(actor)s asked to send “%(subject)s” again"),
    )
    sentence(
        "message.received",
        gettext_lazy("%(from)s wrote: %(subject)s"),
        _message,
    )
