"""Taking messages in: an email, an SMS or the inbox consumer's, into a conversation,
and the customer who sent it.
"""

from __future__ import annotations

import email.policy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import DomainError
from procedo.customers.services.customers import customer_create, customer_find_or_create
from procedo.messaging.models import Channel, InboundMessage, Message
from procedo.support.models import (
    BODY_MAX,
    Conversation,
    ConversationStatus,
    Entry,
    EntryKind,
    SupportChannel,
    TelegramChat,
    Ticket,
)
from procedo.support.services._common import (
    SOURCE_PREFIX,
    _conversation,
    _record,
    _reopen,
    _resume_clock,
    calendar,
    settings_get,
)
from procedo.support.services.threads import thread_of_address


def _source_conversation(message: Message | None) -> int | None:
    if message is None or not message.source.startswith(SOURCE_PREFIX):
        return None
    head = message.source[len(SOURCE_PREFIX) :].split(":")[0]
    return int(head) if head.isdigit() else None


def _unknown_name(address: str) -> str:
    return (_("Unknown sender %(a)s") % {"a": address})[:150]


def customer_for_sender(*, channel: str, address: str, name: str = "") -> int:
    """The customer an email, phone or Telegram chat belongs to; a new one if nobody's.

    Never refuses: an address the customers app cannot read (a malformed From, a
    short code) makes a customer named after it, so the message is never dropped.
    """
    if channel == SupportChannel.TELEGRAM:
        chat = TelegramChat.objects.filter(chat_id=int(address)).first()
        if chat is not None:
            return chat.customer_id
        customer = customer_create(
            first_name=(name or _unknown_name(address))[:150], source="telegram"
        )
        TelegramChat.objects.create(chat_id=int(address), customer=customer)
        return int(customer.pk)
    try:
        match = customer_find_or_create(
            email=address if channel == SupportChannel.EMAIL else "",
            phone=address if channel == SupportChannel.SMS else "",
            first_name=name[:150],
            source="support",
        )
        return int(match.customer.pk)
    except DomainError:
        customer = customer_create(
            first_name=(name or _unknown_name(address))[:150], source="support"
        )
        return int(customer.pk)


def _open_conversation(
    *, channel: str, address: str, customer_id: int, subject: str, now: datetime
) -> Conversation:
    standard = settings_get()
    conversation = Conversation.objects.create(
        channel=channel,
        address=address[:254],
        customer_id=customer_id,
        subject=subject[:300],
        team_id=standard.default_team_id,
        created_at=now,
        last_message_at=now,
    )
    _record(
        "conversation.opened",
        conversation,
        payload={"channel": channel, "from": conversation.address, "subject": conversation.subject},
    )
    return conversation


@dataclass(frozen=True)
class Incoming:
    channel: str
    address: str
    body: str
    idempotency_key: str
    # The body's original, when the system wrote it (core/texts.py); None: the sender's words.
    body_text: dict[str, Any] | None = None
    subject: str = ""
    name: str = ""
    customer_id: int | None = None
    inbound_id: int | None = None
    external_id: str = ""
    # The conversation a reply names (a plus-address, our message it answers).
    conversation_id: int | None = None


@transaction.atomic
def message_receive(incoming: Incoming) -> Entry:
    """What a customer wrote, in its conversation: an open one of the thread, else a new one.

    Email opens a conversation per new mail and joins a reply to its thread; SMS and
    Telegram have no threads, so a message joins the sender's latest conversation that
    is not closed. A redelivery (the same key) is the same entry.
    """
    existing = Entry.objects.filter(idempotency_key=incoming.idempotency_key).first()
    if existing is not None:
        return existing
    now = timezone.now()
    cal = calendar()
    conversation: Conversation | None = None
    if incoming.conversation_id is not None:
        conversation = Conversation.objects.filter(pk=incoming.conversation_id).first()
    if conversation is None and incoming.channel != SupportChannel.EMAIL:
        conversation = (
            Conversation.objects.filter(channel=incoming.channel, address=incoming.address)
            .exclude(status=ConversationStatus.CLOSED)
            .order_by("-id")
            .first()
        )
    if conversation is None:
        customer_id = incoming.customer_id or customer_for_sender(
            channel=incoming.channel, address=incoming.address, name=incoming.name
        )
        subject = incoming.subject or incoming.body.strip().splitlines()[0][:80]
        conversation = _open_conversation(
            channel=incoming.channel,
            address=incoming.address,
            customer_id=customer_id,
            subject=subject,
            now=now,
        )
    conversation = _conversation(conversation.pk, lock=True)
    if conversation.status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED):
        _reopen(conversation, now, cal, previous=conversation.status)
        conversation.status = ConversationStatus.OPEN
    elif conversation.status == ConversationStatus.WAITING:
        conversation.status = ConversationStatus.OPEN
        ticket = Ticket.objects.filter(conversation=conversation).first()
        if ticket is not None:
            _resume_clock(ticket, now, cal)
            ticket.save(update_fields=["first_response_due_at", "resolution_due_at", "paused_at"])
    if conversation.awaiting_since is None:
        conversation.awaiting_since = now
        conversation.reply_due_at = cal.add_minutes(now, settings_get().first_answer_minutes)
        conversation.waiting_raised_at = None
    conversation.last_message_at = now
    conversation.save(
        update_fields=[
            "status",
            "awaiting_since",
            "reply_due_at",
            "waiting_raised_at",
            "last_message_at",
        ]
    )
    entry = Entry.objects.create(
        conversation=conversation,
        kind=EntryKind.INBOUND,
        body=incoming.body.replace("\r\n", "\n").strip()[:BODY_MAX] or "—",
        body_text=incoming.body_text,
        inbound_id=incoming.inbound_id,
        external_id=incoming.external_id[:64],
        idempotency_key=incoming.idempotency_key,
        created_at=now,
    )
    _record(
        "conversation.message_received",
        conversation,
        payload={"channel": incoming.channel, "entry": entry.pk},
    )
    return entry


@transaction.atomic
def inbound_take(*, inbound_id: int, recipients: Sequence[str] = ()) -> Entry | None:
    """An email or SMS messaging stored, into the inbox (once; None if it is gone).

    `recipients` are the SMTP envelope's (the To header may not name the plus-address)."""
    inbound = InboundMessage.objects.select_related("in_reply_to").filter(pk=inbound_id).first()
    if inbound is None:
        return None
    thread = _source_conversation(inbound.in_reply_to)
    if thread is None and inbound.channel == Channel.EMAIL:
        for recipient in [*recipients, *inbound.recipient.split(",")]:
            address = recipient.rsplit("<", 1)[-1].rstrip("> ").strip()
            thread = thread_of_address(address)
            if thread is not None:
                break
    return message_receive(
        Incoming(
            channel=inbound.channel,
            address=inbound.sender,
            body=inbound.body,
            subject=inbound.subject,
            name=_display_name(inbound) if inbound.channel == Channel.EMAIL else "",
            customer_id=inbound.customer_id,
            inbound_id=inbound.pk,
            external_id=inbound.external_id,
            conversation_id=thread,
            idempotency_key=f"inbound:{inbound.pk}",
        )
    )


def _display_name(inbound: InboundMessage) -> str:
    """The name in the From header ("Олена <olena@…>"): a new customer is named by it."""
    headers = BytesHeaderParser(policy=email.policy.default).parsebytes(bytes(inbound.raw))
    return parseaddr(str(headers.get("From", "")))[0].strip()[:150]


def inbox_consume(events: Any) -> None:
    """Event consumer: every `message.received` (an email or an SMS) lands in the inbox."""
    for event in events:
        if event.event_type == "message.received" and event.subject_id is not None:
            inbound_take(inbound_id=int(event.subject_id))
