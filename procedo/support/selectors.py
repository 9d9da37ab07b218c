"""Reads of the support desk: the inbox, one conversation, the standards, CSAT."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Avg, Count, Q, QuerySet

from procedo.support.models import (
    ACTIVE,
    Conversation,
    ConversationStatus,
    Entry,
    SlaPolicy,
    SupportSettings,
    Ticket,
    TicketCategory,
)

INBOX_LIMIT = 100
VIEWS = ("mine", "unassigned", "all")


def support_settings_get() -> SupportSettings:
    found = SupportSettings.objects.select_related("default_team").filter(pk=1).first()
    return found or SupportSettings(pk=SupportSettings.SINGLETON_ID)


def inbox(
    *, user: Any, view: str = "mine", status: str = "", limit: int = INBOX_LIMIT
) -> list[Conversation]:
    """The newest conversations of a view: mine (and my teams' queues), nobody's, or all.

    Without a status filter the active ones (new, open, waiting) are listed."""
    rows: QuerySet[Conversation] = Conversation.objects.select_related(
        "customer", "assignee", "team", "ticket"
    )
    if view == "mine":
        rows = rows.filter(Q(assignee_id=user.pk) | Q(assignee__isnull=True, team__members=user.pk))
    elif view == "unassigned":
        rows = rows.filter(assignee__isnull=True)
    if status in ConversationStatus.values:
        rows = rows.filter(status=status)
    else:
        rows = rows.filter(status__in=[*ACTIVE, ConversationStatus.WAITING])
    return list(rows.order_by("-last_message_at", "-id").distinct()[: max(1, min(limit, 500))])


@dataclass(frozen=True)
class ConversationView:
    conversation: Conversation
    entries: list[Entry]
    ticket: Ticket | None


def conversation_ticket_id(*, conversation_id: int) -> int | None:
    """The id of the conversation's ticket, if it became one."""
    found: int | None = (
        Ticket.objects.filter(conversation_id=conversation_id).values_list("pk", flat=True).first()
    )
    return found


def conversation_get(*, conversation_id: int) -> ConversationView | None:
    conversation = (
        Conversation.objects.select_related("customer", "assignee", "team")
        .filter(pk=conversation_id)
        .first()
    )
    if conversation is None:
        return None
    entries = list(
        Entry.objects.select_related("author", "message").filter(conversation=conversation)
        .order_by("id")[:500]
    )  # fmt: skip
    ticket = (
        Ticket.objects.select_related("category", "order", "policy")
        .filter(conversation=conversation)
        .first()
    )
    return ConversationView(conversation, entries, ticket)


def conversations_of_customer(*, customer_id: int, limit: int = 10) -> list[Conversation]:
    return list(
        Conversation.objects.filter(customer_id=customer_id).order_by("-last_message_at")[:limit]
    )


def sla_policies() -> list[SlaPolicy]:
    return list(SlaPolicy.objects.select_related("category", "escalate_to"))


def categories() -> list[TicketCategory]:
    return list(TicketCategory.objects.all())


@dataclass(frozen=True)
class PersonStandard:
    user_id: int
    name: str
    answered: int  # conversations this person answered first
    within: int  # … within the standard
    average_minutes: float | None  # working minutes to the first answer
    owned_active: int  # active conversations this person owns now
    overdue_now: int  # … past the standard, unanswered
    made_urgent: int = 0  # tickets this person made urgent (each with its reason)

    @property
    def within_share(self) -> float | None:
        return self.within / self.answered if self.answered else None


@dataclass(frozen=True)
class Standards:
    minutes: int
    people: list[PersonStandard]
    without_owner: int  # active conversations nobody owns
    overdue_without_owner: int


def response_standards(*, since: datetime, now: datetime) -> Standards:
    """Per person: first answers since `since`, how many within the standard, the average
    working minutes; what each owns now and how much of it is overdue; the tickets each
    made urgent. Four grouped queries, whatever the number of conversations."""
    minutes = support_settings_get().first_answer_minutes
    answered = {
        row["first_responder_id"]: row
        for row in Conversation.objects.filter(
            first_response_at__gte=since, first_responder__isnull=False
        )
        .values("first_responder_id")
        .annotate(
            n=Count("id"),
            within=Count("id", filter=Q(first_response_minutes__lte=minutes)),
            average=Avg("first_response_minutes"),
        )
    }
    active = Conversation.objects.filter(status__in=ACTIVE)
    overdue = Q(reply_due_at__lt=now)
    owned = {
        row["assignee_id"]: row
        for row in active.filter(assignee__isnull=False)
        .values("assignee_id")
        .annotate(n=Count("id"), overdue=Count("id", filter=overdue))
    }
    nobody = active.filter(assignee__isnull=True).aggregate(
        n=Count("id"), overdue=Count("id", filter=overdue)
    )
    urgent = dict(
        Ticket.objects.filter(urgent_at__gte=since, urgent_by__isnull=False)
        .values("urgent_by_id")
        .annotate(n=Count("id"))
        .values_list("urgent_by_id", "n")
    )
    from procedo.accounts.models import User

    people = []
    for user in User.objects.filter(pk__in={*answered, *owned, *urgent}).order_by(
        "first_name", "username"
    ):
        done, mine = answered.get(user.pk, {}), owned.get(user.pk, {})
        people.append(
            PersonStandard(
                user_id=user.pk,
                name=user.get_full_name() or user.username,
                answered=done.get("n", 0),
                within=done.get("within", 0),
                average_minutes=done.get("average"),
                owned_active=mine.get("n", 0),
                overdue_now=mine.get("overdue", 0),
                made_urgent=urgent.get(user.pk, 0),
            )
        )
    return Standards(minutes, people, nobody["n"], nobody["overdue"])


@dataclass(frozen=True)
class CsatSummary:
    answered: int
    average: float | None
    satisfied: int  # rated 4 or 5
    by_rating: dict[int, int]

    @property
    def satisfied_share(self) -> float | None:
        return self.satisfied / self.answered if self.answered else None


def csat_summary(*, since: datetime, until: datetime) -> CsatSummary:
    """CSAT of the ratings given in [since, until): one grouped query (for analytics)."""
    rows = (
        Ticket.objects.filter(
            csat_rating__isnull=False, csat_answered_at__gte=since, csat_answered_at__lt=until
        )
        .values("csat_rating")
        .annotate(n=Count("id"))
    )
    by_rating = {rating: 0 for rating in range(1, 6)}
    for row in rows:
        by_rating[row["csat_rating"]] = row["n"]
    answered = sum(by_rating.values())
    total = sum(rating * n for rating, n in by_rating.items())
    return CsatSummary(
        answered=answered,
        average=round(total / answered, 2) if answered else None,
        satisfied=by_rating[4] + by_rating[5],
        by_rating=by_rating,
    )
