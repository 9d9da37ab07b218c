"""Writes of the support desk: every one in a transaction with its Event.

The inbox takes what customers write (`inbound_take` for email and SMS stored by
messaging, `message_receive` for every channel), people answer (`conversation_reply`,
through messaging for email and SMS, the Bot API for Telegram), note, assign and
move a conversation's status; a conversation becomes a ticket (`ticket_open`) whose
SLA due times count the business's working hours; `sla_sweep` raises the breaches
and the waits past the response standard in a few set-based statements.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.business.calendar import WorkCalendar, work_calendar
from procedo.business.selectors import business_get, business_language
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.customers.services.customers import customer_create, customer_find_or_create
from procedo.events.models import Event
from procedo.events.services import event_record
from procedo.messaging.models import Channel, InboundMessage, Message
from procedo.messaging.services.queueing import message_queue
from procedo.support.models import (
    ACTIVE,
    BODY_MAX,
    TARGET_MAX_MINUTES,
    Conversation,
    ConversationStatus,
    DeliveryState,
    Entry,
    EntryKind,
    Priority,
    SlaPolicy,
    SupportChannel,
    SupportSettings,
    TelegramChat,
    Ticket,
    TicketCategory,
)

SOURCE_PREFIX = "support:"
_THREAD_SALT = "support.thread"
_SURVEY_SALT = "support.csat"
SURVEY_MAX_AGE = 60 * 60 * 24 * 30  # a month to answer
COMMENT_MAX = 2000
_PLUS = re.compile(r"^[^@+]+\+(?P<token>[^@]+)@", re.IGNORECASE)


def calendar() -> WorkCalendar:
    return work_calendar(business_get())


def settings_get() -> SupportSettings:
    found = SupportSettings.objects.filter(pk=SupportSettings.SINGLETON_ID).first()
    return found or SupportSettings(pk=SupportSettings.SINGLETON_ID)


def _conversation(conversation_id: int, *, lock: bool = False) -> Conversation:
    rows = Conversation.objects.select_related("customer")
    if lock:
        rows = rows.select_for_update(of=("self",))
    found = rows.filter(pk=conversation_id).first()
    if found is None:
        raise NotFound(
            field="conversation_id",
            message=_("No conversation %(id)s.") % {"id": conversation_id},
        )
    return found


def _body(raw: str, field: str = "body") -> str:
    text = (raw or "").strip()
    if not text:
        raise DomainError(field=field, message=_("Write something first."))
    if len(text) > BODY_MAX:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("At most %(n)s characters.") % {"n": BODY_MAX},
        )
    return text


def _record(
    event_type: str,
    conversation: Conversation,
    *,
    actor: Actor = None,
    payload: dict[str, Any] | None = None,
    subject: Any = None,
    idempotency_key: str | None = None,
) -> None:
    event_record(
        event_type=event_type,
        subject=subject or conversation,
        customer_id=conversation.customer_id,
        actor=actor,
        payload=payload or {},
        idempotency_key=idempotency_key,
    )


# ---------------------------------------------------------------- threads


def thread_token(conversation_id: int) -> str:
    """The signed token a reply address carries (support+<token>@…): names one conversation."""
    return signing.Signer(salt=_THREAD_SALT, sep=".").sign(str(conversation_id))


def thread_of_address(address: str) -> int | None:
    """The conversation a plus-address names, if its token is ours and intact."""
    match = _PLUS.match(address.strip())
    if match is None:
        return None
    try:
        return int(signing.Signer(salt=_THREAD_SALT, sep=".").unsign(match["token"]))
    except (signing.BadSignature, ValueError):
        return None


def reply_address(conversation_id: int) -> str:
    """Where the customer's answer to our email goes: the inbox address, plus the thread."""
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">").strip()
    local, _at, domain = sender.partition("@")
    return f"{local.split('+')[0]}+{thread_token(conversation_id)}@{domain or 'localhost'}"


def reply_headers(message: Message) -> dict[str, str]:
    """messaging's header hook: our emails carry the thread in their Reply-To."""
    if message.channel != Channel.EMAIL or not message.source.startswith(SOURCE_PREFIX):
        return {}
    conversation_id = message.source[len(SOURCE_PREFIX) :].split(":")[0]
    if not conversation_id.isdigit():
        return {}
    return {"Reply-To": reply_address(int(conversation_id))}


def _source_conversation(message: Message | None) -> int | None:
    if message is None or not message.source.startswith(SOURCE_PREFIX):
        return None
    head = message.source[len(SOURCE_PREFIX) :].split(":")[0]
    return int(head) if head.isdigit() else None


# ---------------------------------------------------------------- customers


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


# ---------------------------------------------------------------- taking messages in


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


def _resume_clock(ticket: Ticket, now: datetime, cal: WorkCalendar) -> None:
    """The SLA clock starts again: each due time moves on by the working time it stood."""
    if ticket.paused_at is None:
        return
    for field in ("first_response_due_at", "resolution_due_at"):
        due = getattr(ticket, field)
        if due is not None and due > ticket.paused_at:
            left = cal.minutes_between(ticket.paused_at, due)
            setattr(ticket, field, cal.add_minutes(now, left))
    ticket.paused_at = None


def _reopen(
    conversation: Conversation, now: datetime, cal: WorkCalendar, *, previous: str,
    by_customer: bool = True,
) -> None:  # fmt: skip
    """A solved or closed conversation is open again (the customer wrote, or a person
    moved it): recorded, and its ticket's solution is due again."""
    ticket = Ticket.objects.filter(conversation=conversation).first()
    if by_customer:  # a person's move is its own conversation.status_changed
        _record("conversation.reopened", conversation, payload={"from": previous})
    if ticket is None:
        return
    policy = ticket.policy
    ticket.solved_at = None
    ticket.paused_at = None
    ticket.resolution_breached_at = None
    ticket.resolution_due_at = (
        cal.add_minutes(now, policy.resolution_minutes) if policy is not None else None
    )
    ticket.save(
        update_fields=["solved_at", "paused_at", "resolution_breached_at", "resolution_due_at"]
    )
    event_record(
        event_type="ticket.reopened",
        subject=ticket,
        customer_id=conversation.customer_id,
        payload={"from": previous, "conversation": conversation.pk},
    )


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


# ---------------------------------------------------------------- answering


def _first_answer(conversation: Conversation, actor: Actor, now: datetime) -> list[str]:
    changed = ["awaiting_since", "reply_due_at", "waiting_raised_at", "last_message_at"]
    if conversation.first_response_at is None:
        conversation.first_response_at = now
        conversation.first_responder = actor_person(actor)
        conversation.first_response_minutes = calendar().minutes_between(
            conversation.created_at, now
        )
        changed += ["first_response_at", "first_responder", "first_response_minutes"]
        Ticket.objects.filter(conversation=conversation, first_responded_at__isnull=True).update(
            first_responded_at=now
        )
    conversation.awaiting_since = conversation.reply_due_at = None
    conversation.waiting_raised_at = None
    conversation.last_message_at = now
    if conversation.assignee_id is None and actor_id_of(actor):
        # No conversation without an owner: who answers first owns it.
        conversation.assignee = actor_person(actor)
        changed.append("assignee")
    if conversation.status == ConversationStatus.NEW:
        conversation.status = ConversationStatus.OPEN
        changed.append("status")
    return changed


def _send(conversation: Conversation, entry: Entry, *, subject: str, body: str) -> None:
    """Out on the customer's channel; the entry's key makes a retry the same message."""
    if conversation.channel == SupportChannel.TELEGRAM:
        entry.delivery = DeliveryState.QUEUED
        entry.save(update_fields=["delivery"])
        from procedo.support.telegram import telegram_send_on_commit

        telegram_send_on_commit()
        return
    message = message_queue(
        channel=conversation.channel,
        recipient=conversation.address,
        subject=subject if conversation.channel == SupportChannel.EMAIL else "",
        body=body,
        customer_id=conversation.customer_id,
        source=f"{SOURCE_PREFIX}{conversation.pk}",
        idempotency_key=f"support:entry:{entry.pk}",
    )
    entry.message = message
    entry.save(update_fields=["message"])


@transaction.atomic
def conversation_reply(
    *, conversation_id: int, body: str, actor: Actor, idempotency_key: str
) -> Entry:
    """Answer the customer on their channel; the first answer is measured and owns it."""
    existing = Entry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a double click or a retry: already answered, never sent twice
    text = _body(body)
    conversation = _conversation(conversation_id, lock=True)
    if conversation.status == ConversationStatus.CLOSED:
        raise Conflict(
            field="status",
            code="transition_not_allowed",
            message=_("The conversation is closed; it opens again when the customer writes."),
        )
    now = timezone.now()
    changed = _first_answer(conversation, actor, now)
    conversation.save(update_fields=changed)
    entry = Entry.objects.create(
        conversation=conversation,
        kind=EntryKind.REPLY,
        author=actor_person(actor),
        body=text,
        idempotency_key=idempotency_key,
        created_at=now,
    )
    with translation.override(business_language()):  # the customer's words, not the operator's
        subject = conversation.subject or _("Your message")
    if not subject.lower().startswith("re:"):
        subject = f"Re: {subject}"
    _send(conversation, entry, subject=subject, body=text)
    _record(
        "conversation.replied",
        conversation,
        actor=actor,
        payload={"entry": entry.pk, "channel": conversation.channel},
    )
    return entry


@transaction.atomic
def conversation_note_add(
    *, conversation_id: int, body: str, actor: Actor, idempotency_key: str
) -> Entry:
    """An internal note: for the team, never sent."""
    existing = Entry.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    text = _body(body)
    conversation = _conversation(conversation_id)
    entry = Entry.objects.create(
        conversation=conversation,
        kind=EntryKind.NOTE,
        author=actor_person(actor),
        body=text,
        idempotency_key=idempotency_key,
    )
    _record("conversation.noted", conversation, actor=actor, payload={"entry": entry.pk})
    return entry


@transaction.atomic
def conversation_assign(
    *, conversation_id: int, assignee_id: int | None, team_id: int | None, actor: Actor
) -> Conversation:
    """Give the conversation to a person, a team's queue, or both."""
    from procedo.accounts.models import Team, User

    if assignee_id is not None and not User.objects.filter(pk=assignee_id, is_active=True).exists():
        raise NotFound(field="assignee_id", message=_("No such person."))
    if team_id is not None and not Team.objects.filter(pk=team_id).exists():
        raise NotFound(field="team_id", message=_("No such team."))
    conversation = _conversation(conversation_id, lock=True)
    conversation.assignee_id, conversation.team_id = assignee_id, team_id
    conversation.save(update_fields=["assignee", "team"])
    _record(
        "conversation.assigned",
        conversation,
        actor=actor,
        payload={"assignee": assignee_id, "team": team_id},
    )
    return conversation


_MOVES: dict[str, set[str]] = {
    ConversationStatus.NEW: {ConversationStatus.OPEN, ConversationStatus.WAITING,
                             ConversationStatus.SOLVED, ConversationStatus.CLOSED},
    ConversationStatus.OPEN: {ConversationStatus.WAITING, ConversationStatus.SOLVED,
                              ConversationStatus.CLOSED},
    ConversationStatus.WAITING: {ConversationStatus.OPEN, ConversationStatus.SOLVED,
                                 ConversationStatus.CLOSED},
    ConversationStatus.SOLVED: {ConversationStatus.OPEN, ConversationStatus.CLOSED},
    ConversationStatus.CLOSED: {ConversationStatus.OPEN},
}  # fmt: skip


@transaction.atomic
def conversation_change_status(
    *, conversation_id: int, to_status: str, actor: Actor
) -> Conversation:
    """Move a conversation; waiting on the customer stops a ticket's SLA clock, solving
    a ticket sends the customer its survey."""
    if to_status not in ConversationStatus.values:
        raise DomainError(field="status", message=_("No status %(s)s.") % {"s": to_status})
    conversation = _conversation(conversation_id, lock=True)
    from_status = conversation.status
    if from_status == to_status:
        return conversation
    if to_status not in _MOVES[from_status]:
        raise Conflict(
            field="status",
            code="transition_not_allowed",
            message=_("A conversation cannot go from %(a)s to %(b)s.")
            % {
                "a": ConversationStatus(from_status).label,
                "b": ConversationStatus(to_status).label,
            },
        )
    now = timezone.now()
    cal = calendar()
    conversation.status = to_status
    fields = ["status"]
    if to_status not in ACTIVE:
        # Nobody owes an answer to a conversation waiting on the customer, solved or closed.
        conversation.awaiting_since = conversation.reply_due_at = None
        fields += ["awaiting_since", "reply_due_at"]
    conversation.save(update_fields=fields)
    _record(
        "conversation.status_changed",
        conversation,
        actor=actor,
        payload={"from": from_status, "to": to_status},
    )
    ticket = Ticket.objects.select_related("conversation").filter(conversation=conversation).first()
    if ticket is not None:
        _ticket_follow(ticket, from_status, to_status, actor=actor, now=now, cal=cal)
    return conversation


def _ticket_follow(
    ticket: Ticket, from_status: str, to_status: str, *, actor: Actor, now: datetime,
    cal: WorkCalendar,
) -> None:  # fmt: skip
    conversation = ticket.conversation
    if to_status == ConversationStatus.WAITING and ticket.paused_at is None:
        ticket.paused_at = now
    elif from_status == ConversationStatus.WAITING:
        _resume_clock(ticket, now, cal)
    if to_status == ConversationStatus.SOLVED and ticket.solved_at is None:
        ticket.solved_at = now
        ticket.paused_at = None
        event_record(
            event_type="ticket.solved",
            subject=ticket,
            customer_id=conversation.customer_id,
            actor=actor,
            payload={"priority": ticket.priority, "conversation": conversation.pk},
        )
        _survey_send(ticket, now)
    elif from_status in (ConversationStatus.SOLVED, ConversationStatus.CLOSED) and to_status in (
        ConversationStatus.OPEN,
    ):
        ticket.save()
        _reopen(conversation, now, cal, previous=from_status, by_customer=False)
        return
    ticket.save()


# ---------------------------------------------------------------- tickets and SLAs


def _policy_for(priority: str, category_id: int | None) -> SlaPolicy | None:
    rows = SlaPolicy.objects.filter(priority=priority)
    return (
        rows.filter(category_id=category_id).first() if category_id is not None else None
    ) or rows.filter(category__isnull=True).first()


@transaction.atomic
def ticket_open(
    *,
    conversation_id: int,
    priority: str = Priority.NORMAL,
    category_id: int | None = None,
    order_id: int | None = None,
    urgent_reason: str = "",
    actor: Actor,
) -> Ticket:
    """The conversation becomes a ticket; its SLA policy sets the due times (working time).
    An urgent one says why (the team's standard)."""
    from procedo.orders.models import Order

    urgent_reason = _priority_checked(priority, urgent_reason)
    if category_id is not None and not TicketCategory.objects.filter(pk=category_id).exists():
        raise NotFound(field="category_id", message=_("No such category."))
    if order_id is not None and not Order.objects.filter(pk=order_id).exists():
        raise NotFound(field="order_id", message=_("No order %(id)s.") % {"id": order_id})
    conversation = _conversation(conversation_id, lock=True)
    existing = Ticket.objects.filter(conversation=conversation).first()
    if existing is not None:
        return existing  # one ticket per conversation; asking again is answered with it
    now = timezone.now()
    cal = calendar()
    policy = _policy_for(priority, category_id)
    urgent = priority == Priority.URGENT
    ticket = Ticket.objects.create(
        conversation=conversation,
        priority=priority,
        urgent_reason=urgent_reason,
        urgent_by=actor_person(actor) if urgent else None,
        urgent_at=now if urgent else None,
        category_id=category_id,
        order_id=order_id,
        policy=policy,
        opened_at=now,
        first_responded_at=conversation.first_response_at,
        first_response_due_at=(
            cal.add_minutes(conversation.created_at, policy.first_response_minutes)
            if policy is not None and conversation.first_response_at is None
            else None
        ),
        resolution_due_at=(
            cal.add_minutes(now, policy.resolution_minutes) if policy is not None else None
        ),
        paused_at=now if conversation.status == ConversationStatus.WAITING else None,
    )
    event_record(
        event_type="ticket.opened",
        subject=ticket,
        customer_id=conversation.customer_id,
        actor=actor,
        payload={
            "priority": priority,
            "category": category_id,
            "order": order_id,
            "conversation": conversation.pk,
            **({"reason": urgent_reason} if urgent else {}),
        },
    )
    return ticket


URGENT_REASON_MAX = 300


def _priority_checked(priority: str, reason: str) -> str:
    """The reason kept with the priority: required for an urgent one, none for the others."""
    if priority not in Priority.values:
        raise DomainError(field="priority", message=_("No priority %(p)s.") % {"p": priority})
    reason = " ".join((reason or "").split())
    if priority != Priority.URGENT:
        return ""
    if not reason:
        raise DomainError(
            field="urgent_reason",
            message=_("Say why it is urgent: the team marks urgent only with a reason."),
        )
    if len(reason) > URGENT_REASON_MAX:
        raise DomainError(
            field="urgent_reason",
            code="too_large",
            message=_("The reason has at most %(n)d characters.") % {"n": URGENT_REASON_MAX},
        )
    return reason


def _due_rebased(
    due: datetime | None, *, old: int | None, new: int | None, start: datetime,
    at: datetime, cal: WorkCalendar,
) -> datetime | None:  # fmt: skip
    """A due time under a new target: the working time already used counts against it. With
    no target before, it runs from `start`, as when the ticket opened."""
    if new is None:
        return None
    if due is None or old is None:
        return cal.add_minutes(start, new)
    used = old - (cal.minutes_between(at, due) if due > at else 0)
    return cal.add_minutes(at, max(new - used, 0))


@transaction.atomic
def ticket_priority_set(
    *, ticket_id: int, priority: str, urgent_reason: str = "", actor: Actor
) -> Ticket:
    """A ticket's priority changes: the SLA policy of the new one applies, with the working
    time already used counted; an urgent one says why. The same priority again changes
    nothing."""
    reason = _priority_checked(priority, urgent_reason)
    ticket = Ticket.objects.select_for_update().filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(field="ticket_id", message=_("No ticket %(id)s.") % {"id": ticket_id})
    if ticket.priority == priority:
        return ticket
    conversation = Conversation.objects.get(pk=ticket.conversation_id)
    now, cal = timezone.now(), calendar()
    at = ticket.paused_at or now  # a paused clock stood still since
    old, new = ticket.policy, _policy_for(priority, ticket.category_id)
    if ticket.first_responded_at is None:
        ticket.first_response_due_at = _due_rebased(
            ticket.first_response_due_at,
            old=old.first_response_minutes if old else None,
            new=new.first_response_minutes if new else None,
            start=conversation.created_at,
            at=at,
            cal=cal,
        )
    if ticket.solved_at is None:
        ticket.resolution_due_at = _due_rebased(
            ticket.resolution_due_at,
            old=old.resolution_minutes if old else None,
            new=new.resolution_minutes if new else None,
            start=ticket.opened_at,
            at=at,
            cal=cal,
        )
    previous = ticket.priority
    urgent = priority == Priority.URGENT
    ticket.priority, ticket.policy, ticket.urgent_reason = priority, new, reason
    ticket.urgent_by, ticket.urgent_at = (actor_person(actor), now) if urgent else (None, None)
    ticket.save(
        update_fields=[
            "priority", "policy", "urgent_reason", "urgent_by", "urgent_at",
            "first_response_due_at", "resolution_due_at",
        ]
    )  # fmt: skip
    event_record(
        event_type="ticket.priority_changed",
        subject=ticket,
        customer_id=conversation.customer_id,
        actor=actor,
        payload={"from": previous, "to": priority, **({"reason": reason} if urgent else {})},
    )
    return ticket


def _minutes(raw: Any, field: str) -> int:
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise DomainError(field=field, message=_("Give a whole number of minutes.")) from None
    if value < 0:
        raise DomainError(field=field, message=_("A target cannot be negative."))
    if value > TARGET_MAX_MINUTES:
        raise DomainError(
            field=field,
            code="too_large",
            message=_("At most %(n)s minutes.") % {"n": TARGET_MAX_MINUTES},
        )
    return value


@transaction.atomic
def sla_policy_save(
    *,
    priority: str,
    first_response_minutes: Any,
    resolution_minutes: Any,
    category_id: int | None = None,
    escalate_to_id: int | None = None,
    actor: Actor,
) -> SlaPolicy:
    """The targets of a priority (and category); the same pair again changes its targets."""
    from procedo.accounts.models import Team

    if priority not in Priority.values:
        raise DomainError(field="priority", message=_("No priority %(p)s.") % {"p": priority})
    first = _minutes(first_response_minutes, "first_response_minutes")
    resolution = _minutes(resolution_minutes, "resolution_minutes")
    if resolution < first:
        raise DomainError(
            field="resolution_minutes",
            message=_("The solution cannot be due before the first answer."),
        )
    if category_id is not None and not TicketCategory.objects.filter(pk=category_id).exists():
        raise NotFound(field="category_id", message=_("No such category."))
    if escalate_to_id is not None and not Team.objects.filter(pk=escalate_to_id).exists():
        raise NotFound(field="escalate_to_id", message=_("No such team."))
    policy, _created = SlaPolicy.objects.update_or_create(
        priority=priority,
        category_id=category_id,
        defaults={
            "first_response_minutes": first,
            "resolution_minutes": resolution,
            "escalate_to_id": escalate_to_id,
        },
    )
    event_record(
        event_type="sla_policy.saved",
        subject=policy,
        actor=actor,
        payload={
            "priority": priority,
            "category": category_id,
            "first_response_minutes": first,
            "resolution_minutes": resolution,
        },
    )
    return policy


@transaction.atomic
def ticket_category_create(*, name: str, actor: Actor) -> TicketCategory:
    cleaned = " ".join((name or "").split())[:100]
    if not cleaned:
        raise DomainError(field="name", message=_("Give the category a name."))
    category, created = TicketCategory.objects.get_or_create(name=cleaned)
    if created:
        event_record(
            event_type="ticket_category.created", subject=category, actor=actor,
            payload={"name": cleaned},
        )  # fmt: skip
    return category


@transaction.atomic
def support_settings_save(
    *, first_answer_minutes: Any, default_team_id: int | None, actor: Actor
) -> SupportSettings:
    """The response standard: the first answer within N working minutes."""
    from procedo.accounts.models import Team

    minutes = _minutes(first_answer_minutes, "first_answer_minutes")
    if default_team_id is not None and not Team.objects.filter(pk=default_team_id).exists():
        raise NotFound(field="default_team_id", message=_("No such team."))
    saved, _created = SupportSettings.objects.update_or_create(
        pk=SupportSettings.SINGLETON_ID,
        defaults={"first_answer_minutes": minutes, "default_team_id": default_team_id},
    )
    event_record(
        event_type="support_settings.saved",
        subject=saved,
        actor=actor,
        payload={"first_answer_minutes": minutes, "default_team": default_team_id},
    )
    return saved


def _events_insert_select(rows: Any, *, event_type: str, payload: str, key: str) -> int:
    """INSERT INTO the event log SELECT one event per row of `rows` (ticket or conversation
    ids with their customer), keyed so a second sweep over the same rows adds nothing."""
    at = connection.ops.adapt_datetimefield_value(timezone.now())
    subject_type = rows.model._meta.model_name
    source_sql, source_params = (
        rows.order_by().values_list("pk", "c_customer").query.sql_with_params()
    )
    quote = connection.ops.quote_name
    cast = "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"
    # Only quoted names, constants and placeholders are formatted in; SQLite needs the
    # WHERE to read ON CONFLICT as the upsert, not part of the SELECT.
    statement = (
        f"INSERT INTO {quote(Event._meta.db_table)}"  # noqa: S608
        " (event_type, subject_type, subject_id, customer_id, actor_id, actor_label,"
        " payload, occurred_at, idempotency_key)"
        f" SELECT %s, %s, src.{quote('pk')}, src.c_customer, NULL, '', {cast}, %s,"
        f" %s || CAST(src.{quote('pk')} AS TEXT) FROM ({source_sql}) AS src WHERE true"
        " ON CONFLICT (idempotency_key) DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(statement, [event_type, subject_type, payload, at, key, *source_params])
        return max(cursor.rowcount, 0)


@dataclass(frozen=True)
class SweepResult:
    first_response_breached: int
    resolution_breached: int
    waiting: int


@transaction.atomic
def sla_sweep(*, now: datetime | None = None) -> SweepResult:
    """Breaches and waits, set-based: a few INSERT … SELECT and UPDATE statements, no loop.

    A ticket past a due time (its clock running, not solved) gets one
    `ticket.sla_breached` and moves to its policy's escalation team; a conversation
    past the response standard gets one `conversation.waiting` per wait.
    """
    now = now or timezone.now()
    running = Ticket.objects.filter(paused_at__isnull=True, solved_at__isnull=True)
    customer = F("conversation__customer_id")
    counts: dict[str, int] = {}
    for target, due, breached, extra in (
        ("first_response", "first_response_due_at", "first_response_breached_at",
         Q(first_responded_at__isnull=True)),
        ("resolution", "resolution_due_at", "resolution_breached_at", Q()),
    ):  # fmt: skip
        late = running.filter(extra, **{f"{due}__lt": now, f"{breached}__isnull": True})
        counts[target] = _events_insert_select(
            late.annotate(c_customer=customer),
            event_type="ticket.sla_breached",
            payload=f'{{"target": "{target}"}}',
            key=f"sla:{target}:",
        )
        escalate_to = Ticket.objects.filter(conversation_id=OuterRef("pk")).values(
            "policy__escalate_to_id"
        )[:1]
        Conversation.objects.filter(
            ticket__in=late.filter(policy__escalate_to__isnull=False).values("pk")
        ).update(team_id=Subquery(escalate_to))
        late.update(**{breached: now, "escalated_at": now})
    waiting = Conversation.objects.filter(
        status__in=ACTIVE, reply_due_at__lt=now, waiting_raised_at__isnull=True
    )
    # One event per wait: the key carries when the wait began.
    stamp = now.strftime("%Y%m%d%H%M%S")
    counts["waiting"] = _events_insert_select(
        waiting.annotate(c_customer=F("customer_id")),
        event_type="conversation.waiting",
        payload="{}",
        key=f"waiting:{stamp}:",
    )
    waiting.update(waiting_raised_at=now)
    return SweepResult(counts["first_response"], counts["resolution"], counts["waiting"])


# ---------------------------------------------------------------- satisfaction


def survey_token(ticket_id: int) -> str:
    return signing.dumps({"t": ticket_id}, salt=_SURVEY_SALT, compress=True)


def survey_url(ticket_id: int) -> str:
    path = reverse("support:survey", args=[survey_token(ticket_id)])
    return f"{settings.PROCEDO_BASE_URL.rstrip('/')}{path}"


def _survey_send(ticket: Ticket, now: datetime) -> None:
    """The customer's rating link, on their channel, once per ticket."""
    if ticket.csat_sent_at is not None:
        return
    conversation = ticket.conversation
    ticket.csat_sent_at = now
    # In the store's language, whoever solved the ticket and whatever language they read.
    with translation.override(business_language()):
        text = _(
            "Your request is solved. How did we do? Rate us from 1 to 5 (one click, no login): "
            "%(url)s"
        ) % {"url": survey_url(ticket.pk)}
        subject = _("How did we do?")
    entry = Entry.objects.create(
        conversation=conversation,
        kind=EntryKind.REPLY,
        body=text,
        idempotency_key=f"support:survey:{ticket.pk}",
        created_at=now,
    )
    _send(conversation, entry, subject=subject, body=text)


def survey_ticket(token: str) -> Ticket:
    """The ticket a survey link names; a link tampered with or too old is refused."""
    try:
        data = signing.loads(token, salt=_SURVEY_SALT, max_age=SURVEY_MAX_AGE)
        ticket_id = int(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DomainError(
            field="token", message=_("This survey link is not valid. Use the link we sent you.")
        ) from None
    ticket = Ticket.objects.select_related("conversation").filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(field="token", message=_("This survey link is not valid."))
    return ticket


@transaction.atomic
def survey_answer(*, token: str, rating: Any, comment: str = "") -> Ticket:
    """The customer's rating (1–5) and comment, stored on the ticket once: a second
    answer through the same link is refused and the first one kept."""
    ticket = survey_ticket(token)
    try:
        score = int(rating)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise DomainError(field="rating", message=_("Choose a rating from 1 to 5."))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise DomainError(
            field="comment",
            code="too_large",
            message=_("At most %(n)s characters.") % {"n": COMMENT_MAX},
        )
    now = timezone.now()
    # Compare-and-set: two submits of one link race here and only one finds it unanswered.
    changed = Ticket.objects.filter(pk=ticket.pk, csat_rating__isnull=True).update(
        csat_rating=score, csat_comment=comment, csat_answered_at=now
    )
    if changed != 1:
        raise Conflict(field="token", message=_("This survey was answered already. Thank you!"))
    event_record(
        event_type="ticket.rated",
        subject=ticket,
        customer_id=ticket.conversation.customer_id,
        payload={"rating": score},
    )
    ticket.csat_rating, ticket.csat_comment, ticket.csat_answered_at = score, comment, now
    return ticket


def conversations_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's conversations and chats become the survivor's."""
    TelegramChat.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    return Conversation.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
