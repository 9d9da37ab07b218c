"""Answering a conversation, noting, assigning and moving it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.business.calendar import WorkCalendar
from procedo.business.selectors import business_language
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.support.models import (
    ACTIVE,
    Conversation,
    ConversationStatus,
    Entry,
    EntryKind,
    TelegramChat,
    Ticket,
)
from procedo.support.services._common import (
    _body,
    _conversation,
    _record,
    _reopen,
    _resume_clock,
    _send,
    calendar,
)
from procedo.support.services.satisfaction import survey_url


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


def conversations_move_to_customer(survivor_id: int, duplicate_id: int) -> int:
    """Merge participant: the duplicate's conversations and chats become the survivor's."""
    TelegramChat.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
    return Conversation.objects.filter(customer_id=duplicate_id).update(customer_id=survivor_id)
