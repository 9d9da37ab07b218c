"""Messages customers send us: email replies (a mail server's pipe) and SMS (Twilio's webhook).

Each is stored raw first, then matched: an email to the outbound message whose
Message-ID its In-Reply-To or References names, an SMS to the latest SMS we sent
to that number; failing that, to the customer whose identity sent it. A
`message.received` event puts it on the customer's timeline. A reply to a
support-type message (an outbound source starting `ticket:` or `support:`) is
flagged `is_support_reply` for the support area to turn into a ticket.

Twilio's inbound webhook (https://www.twilio.com/docs/messaging/guides/webhook-request)
POSTs `MessageSid`, `AccountSid`, `From`, `To`, `Body`, `NumMedia`, … signed in
`X-Twilio-Signature` as the delivery callbacks are (see `sms.py`).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import json
import re
from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import getaddresses

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.events.services.recording import event_record
from procedo.messaging.models import Channel, InboundMessage, Message
from procedo.messaging.sms import E164, twilio_request_verify

SUPPORT_SOURCES = ("ticket:", "support:")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
MAX_RAW = 25 * 1024 * 1024  # what a mail server would accept as one message


def _store(
    *,
    channel: str,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    raw: bytes,
    external_id: str,
    idempotency_key: str,
    in_reply_to: Message | None,
) -> InboundMessage:
    existing = InboundMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a redelivery: already stored, already on the timeline
    customer_id = in_reply_to.customer_id if in_reply_to is not None else None
    if customer_id is None:
        customer_id = _customer_of(channel, sender)
    inbound = InboundMessage(
        channel=channel,
        sender=sender[:254],
        recipient=recipient[:254],
        subject=subject[:300],
        body=body,
        raw=raw,
        external_id=external_id[:250],
        in_reply_to=in_reply_to,
        customer_id=customer_id,
        is_support_reply=bool(in_reply_to and in_reply_to.source.startswith(SUPPORT_SOURCES)),
        idempotency_key=idempotency_key[:300],
    )
    try:
        with transaction.atomic():
            inbound.save(force_insert=True)
    except IntegrityError:
        # The same delivery, stored by a twin request a moment ago.
        return InboundMessage.objects.get(idempotency_key=idempotency_key[:300])
    event_record(
        event_type="message.received",
        subject=inbound,
        customer_id=customer_id,
        payload={
            "channel": channel,
            "from": inbound.sender,
            "subject": inbound.subject,
            "in_reply_to": in_reply_to.pk if in_reply_to else None,
            "support": inbound.is_support_reply,
        },
    )
    return inbound


def _customer_of(channel: str, sender: str) -> int | None:
    from procedo.customers.models import Identity

    kind = "email" if channel == Channel.EMAIL else "phone"
    value = sender.strip().lower() if channel == Channel.EMAIL else sender.strip()
    return (
        Identity.objects.filter(kind=kind, value=value)
        .values_list("customer_id", flat=True)
        .first()
    )


def _parse_email(raw: bytes) -> EmailMessage:
    if not raw.strip():
        raise DomainError(field="message", message=_("The input is empty: no message to read."))
    if len(raw) > MAX_RAW:
        raise DomainError(field="message", message=_("The message is larger than 25 MB."))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    if not parsed.keys() or parsed.get("From") is None:
        raise DomainError(
            field="From",
            message=_("Not an RFC 822 message: it has no From header."),
        )
    return parsed


def _sender_address(parsed: EmailMessage) -> str:
    try:
        header = parsed["From"]
        addresses: tuple[Address, ...] = getattr(header, "addresses", ())
        found = [a.addr_spec for a in addresses if a.addr_spec and "@" in a.addr_spec]
    except (ValueError, IndexError, TypeError):
        found = []
    if not found:
        found = [addr for _name, addr in getaddresses([str(parsed.get("From", ""))]) if "@" in addr]
    if not found:
        raise DomainError(
            field="From",
            message=_("The From header holds no email address: %(v)s")
            % {"v": str(parsed.get("From", ""))[:200]},
        )
    return found[0].strip().lower()


def _text_of(parsed: EmailMessage) -> str:
    try:
        part = parsed.get_body(preferencelist=("plain", "html"))
        content = part.get_content() if part is not None else ""
    except (LookupError, ValueError, KeyError, AssertionError):
        content = ""  # an odd charset or structure: the raw message keeps everything
    return content if isinstance(content, str) else ""


def _replied_to(parsed: EmailMessage) -> Message | None:
    in_reply_to = _MESSAGE_ID.findall(str(parsed.get("In-Reply-To", "")))
    references = _MESSAGE_ID.findall(str(parsed.get("References", "")))
    # In-Reply-To names the message answered; References the thread, newest last.
    wanted = [*in_reply_to, *reversed(references)]
    if not wanted:
        return None
    found = {
        m.message_id: m
        for m in Message.objects.filter(channel=Channel.EMAIL, message_id__in=wanted[:50])
    }
    return next((found[mid] for mid in wanted if mid in found), None)


@transaction.atomic
def inbound_email_receive(*, raw: bytes) -> InboundMessage:
    """One RFC 822 message (a mail server's pipe); refused naming what is wrong if unreadable."""
    parsed = _parse_email(raw)
    sender = _sender_address(parsed)
    own_id = _MESSAGE_ID.findall(str(parsed.get("Message-ID", "")))
    # A mail server that retries a pipe delivers the same Message-ID again; a message
    # without one is keyed by its bytes.
    key = f"email:{own_id[0]}" if own_id else f"email-sha256:{hashlib.sha256(raw).hexdigest()}"
    return _store(
        channel=Channel.EMAIL,
        sender=sender,
        recipient=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        body=_text_of(parsed),
        raw=raw,
        external_id=own_id[0] if own_id else "",
        idempotency_key=key,
        in_reply_to=_replied_to(parsed),
    )


@transaction.atomic
def inbound_sms_receive(*, url: str, params: Mapping[str, str], signature: str) -> InboundMessage:
    """Twilio's inbound-SMS webhook: signature checked, then stored once per MessageSid."""
    twilio_request_verify(url=url, params=params, signature=signature)
    sid = params.get("MessageSid", "").strip()
    sender = params.get("From", "").strip()
    if not sid:
        raise DomainError(field="MessageSid", message=_("The webhook has no MessageSid."))
    if not sender:
        raise DomainError(field="From", message=_("The webhook has no From."))
    replied = None
    if E164.match(sender):
        # SMS has no threads: the latest SMS we sent to that number is what it answers.
        replied = (
            Message.objects.filter(channel=Channel.SMS, recipient=sender).order_by("-id").first()
        )
    return _store(
        channel=Channel.SMS,
        sender=sender,
        recipient=params.get("To", ""),
        subject="",
        body=params.get("Body", ""),
        raw=json.dumps(dict(params), ensure_ascii=False, sort_keys=True).encode(),
        external_id=sid,
        idempotency_key=f"sms:{sid}",
        in_reply_to=replied,
    )


def inbound_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's inbound messages become the survivor's."""
    return InboundMessage.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
