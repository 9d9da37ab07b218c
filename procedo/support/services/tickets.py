"""Tickets: opening, priority, SLA clocks and their sweep; SLA policies, categories and
the support settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, OuterRef, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.business.calendar import WorkCalendar
from procedo.core.errors import DomainError, NotFound
from procedo.events.models import Event
from procedo.events.services.recording import event_record
from procedo.support.models import (
    ACTIVE,
    TARGET_MAX_MINUTES,
    Conversation,
    ConversationStatus,
    Priority,
    SlaPolicy,
    SupportSettings,
    Ticket,
    TicketCategory,
)
from procedo.support.services._common import _conversation, calendar


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
