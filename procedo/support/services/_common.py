"""What several support services share: the calendar and settings, fetching a conversation,
its event, its clock on reopening, and sending on it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.business.calendar import WorkCalendar, work_calendar
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.messaging.services.queueing import message_queue
from procedo.support.models import (
    BODY_MAX,
    Conversation,
    DeliveryState,
    Entry,
    SupportChannel,
    SupportSettings,
    Ticket,
)

SOURCE_PREFIX = "support:"


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
