"""The support desk over REST: what its pages do, for programs. Thin.

Errors are `{"detail", "field", "code"}`: 422 a refused value (a negative SLA target
names its field), 404 an unknown id, 409 a move the statuses do not allow.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal

from django.utils import timezone
from ninja import Field, Header, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.business import services as business_services
from procedo.core.bounds import Id, LongText, PathId, ShortText
from procedo.core.errors import NotFound
from procedo.core.schemas import Schema
from procedo.support import selectors
from procedo.support.models import TARGET_MAX_MINUTES, Conversation, SlaPolicy, TicketCategory
from procedo.support.services import conversations as conversation_services
from procedo.support.services import tickets as ticket_services

router = Router(tags=["support"])


StatusIn = Literal["new", "open", "waiting", "solved", "closed"]
PriorityIn = Literal["low", "normal", "high", "urgent"]
# Working minutes; a negative or too large target is refused naming its field.
Minutes = Annotated[int, Field(ge=0, le=TARGET_MAX_MINUTES)]
# HH:MM on the business's clock.
ClockTime = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", max_length=5)]


class ConversationOut(Schema):
    id: int
    channel: str = Field(description="email, sms or telegram.")
    address: str = Field(description="The customer's email, phone (E.164) or Telegram chat id.")
    customer_id: int
    subject: str
    status: str = Field(description="new, open, waiting (on the customer), solved or closed.")
    assignee_id: int | None
    team_id: int | None
    created_at: datetime
    last_message_at: datetime
    reply_due_at: datetime | None = Field(description="When the response standard wants an answer.")
    first_response_at: datetime | None


class EntryOut(Schema):
    id: int
    kind: str = Field(description="inbound, reply or note.")
    author_id: int | None
    body: str
    message_id: int | None = Field(description="The messaging ledger's row (email, SMS).")
    delivery: str = Field(description="Telegram replies: queued, sending, sent, failed, unknown.")
    created_at: datetime


class TicketOut(Schema):
    id: int
    conversation_id: int
    category_id: int | None
    priority: str
    order_id: int | None
    opened_at: datetime
    first_response_due_at: datetime | None
    resolution_due_at: datetime | None
    first_responded_at: datetime | None
    solved_at: datetime | None
    paused_at: datetime | None = Field(description="Set while waiting on the customer.")
    first_response_breached_at: datetime | None
    resolution_breached_at: datetime | None
    csat_rating: int | None
    csat_comment: str
    urgent_reason: str = Field(description="Why it was made urgent (empty unless urgent).")


class ConversationDetailOut(Schema):
    conversation: ConversationOut
    entries: list[EntryOut]
    ticket: TicketOut | None


class InboxQuery(Schema):
    view: Literal["mine", "unassigned", "all"] = "mine"
    status: StatusIn | None = None


@router.get("/conversations", response=list[ConversationOut], auth=requires_api("support.view"))
def conversation_list(request: ApiRequest, filters: Query[InboxQuery]) -> list[Conversation]:
    """The inbox: the 100 newest conversations of a view (mine, unassigned, all)."""
    return selectors.inbox(user=request.auth, view=filters.view, status=filters.status or "")


@router.get(
    "/conversations/{conversation_id}",
    response=ConversationDetailOut,
    auth=requires_api("support.view"),
)
def conversation_detail(request: ApiRequest, conversation_id: PathId) -> dict[str, Any]:
    found = selectors.conversation_get(conversation_id=conversation_id)
    if found is None:
        raise NotFound(field="conversation_id", message=f"no conversation {conversation_id}")
    return {"conversation": found.conversation, "entries": found.entries, "ticket": found.ticket}


class TextIn(Schema):
    body: LongText = Field(min_length=1)


def _key(request: ApiRequest, key: str) -> str:
    # Scoped to the caller: two clients' keys never meet.
    return f"api:{getattr(request.auth, 'pk', 0)}:{key}"


@router.post(
    "/conversations/{conversation_id}/reply",
    response={201: EntryOut},
    auth=requires_api("support.work"),
)
def conversation_reply(
    request: ApiRequest,
    conversation_id: PathId,
    payload: TextIn,
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=1, max_length=150),
) -> Status:
    """Answer on the customer's channel; the same Idempotency-Key never sends twice."""
    entry = conversation_services.conversation_reply(
        conversation_id=conversation_id,
        body=payload.body,
        actor=request.auth,
        idempotency_key=_key(request, idempotency_key),
    )
    return Status(201, entry)


@router.post(
    "/conversations/{conversation_id}/notes",
    response={201: EntryOut},
    auth=requires_api("support.work"),
)
def conversation_note_add(
    request: ApiRequest,
    conversation_id: PathId,
    payload: TextIn,
    idempotency_key: str = Header(..., alias="Idempotency-Key", min_length=1, max_length=150),
) -> Status:
    entry = conversation_services.conversation_note_add(
        conversation_id=conversation_id,
        body=payload.body,
        actor=request.auth,
        idempotency_key=_key(request, idempotency_key),
    )
    return Status(201, entry)


class AssignIn(Schema):
    assignee_id: Id | None = None
    team_id: Id | None = None


@router.post(
    "/conversations/{conversation_id}/assign",
    response=ConversationOut,
    auth=requires_api("support.work"),
)
def conversation_assign(
    request: ApiRequest, conversation_id: PathId, payload: AssignIn
) -> Conversation:
    return conversation_services.conversation_assign(
        conversation_id=conversation_id,
        assignee_id=payload.assignee_id,
        team_id=payload.team_id,
        actor=request.auth,
    )


class StatusBody(Schema):
    status: StatusIn


@router.post(
    "/conversations/{conversation_id}/status",
    response=ConversationOut,
    auth=requires_api("support.work"),
)
def conversation_change_status(
    request: ApiRequest, conversation_id: PathId, payload: StatusBody
) -> Conversation:
    """Solving a ticket sends the customer its survey; waiting on them stops the SLA clock."""
    return conversation_services.conversation_change_status(
        conversation_id=conversation_id, to_status=payload.status, actor=request.auth
    )


class TicketIn(Schema):
    priority: PriorityIn = "normal"
    category_id: Id | None = None
    order_id: Id | None = None
    urgent_reason: str = Field(
        "", max_length=300, description="Why it is urgent: required when priority is urgent."
    )


@router.post(
    "/conversations/{conversation_id}/ticket",
    response={201: TicketOut},
    auth=requires_api("support.work"),
)
def ticket_open(request: ApiRequest, conversation_id: PathId, payload: TicketIn) -> Status:
    """The conversation becomes a ticket (once; asking again answers the same ticket)."""
    ticket = ticket_services.ticket_open(
        conversation_id=conversation_id,
        priority=payload.priority,
        category_id=payload.category_id,
        order_id=payload.order_id,
        urgent_reason=payload.urgent_reason,
        actor=request.auth,
    )
    return Status(201, ticket)


class PriorityChangeIn(Schema):
    priority: PriorityIn
    urgent_reason: str = Field(
        "", max_length=300, description="Why it is urgent: required when priority is urgent."
    )


@router.post("/tickets/{ticket_id}/priority", response=TicketOut, auth=requires_api("support.work"))
def ticket_priority_set(request: ApiRequest, ticket_id: PathId, payload: PriorityChangeIn) -> Any:
    """Change a ticket's priority: the new priority's SLA policy applies, counting the working
    time already used; the same priority again changes nothing."""
    return ticket_services.ticket_priority_set(
        ticket_id=ticket_id,
        priority=payload.priority,
        urgent_reason=payload.urgent_reason,
        actor=request.auth,
    )


class PolicyOut(Schema):
    id: int
    priority: str
    category_id: int | None
    first_response_minutes: int
    resolution_minutes: int
    escalate_to_id: int | None


class PolicyIn(Schema):
    priority: PriorityIn
    category_id: Id | None = None
    first_response_minutes: Minutes = Field(description="Working minutes; not negative.")
    resolution_minutes: Minutes = Field(description="Working minutes; not negative.")
    escalate_to_id: Id | None = None


@router.get("/policies", response=list[PolicyOut], auth=requires_api("support.view"))
def sla_policy_list(request: ApiRequest) -> list[SlaPolicy]:
    return selectors.sla_policies()


@router.post("/policies", response=PolicyOut, auth=requires_api("support.manage"))
def sla_policy_save(request: ApiRequest, payload: PolicyIn) -> SlaPolicy:
    return ticket_services.sla_policy_save(
        priority=payload.priority,
        category_id=payload.category_id,
        first_response_minutes=payload.first_response_minutes,
        resolution_minutes=payload.resolution_minutes,
        escalate_to_id=payload.escalate_to_id,
        actor=request.auth,
    )


class CategoryOut(Schema):
    id: int
    name: str


class CategoryIn(Schema):
    name: ShortText = Field(min_length=1)


@router.get("/categories", response=list[CategoryOut], auth=requires_api("support.view"))
def ticket_category_list(request: ApiRequest) -> list[TicketCategory]:
    return selectors.categories()


@router.post("/categories", response=CategoryOut, auth=requires_api("support.manage"))
def ticket_category_create(request: ApiRequest, payload: CategoryIn) -> TicketCategory:
    return ticket_services.ticket_category_create(name=payload.name, actor=request.auth)


class SettingsIn(Schema):
    first_answer_minutes: Minutes
    default_team_id: Id | None = None


class SettingsOut(Schema):
    first_answer_minutes: int
    default_team_id: int | None


@router.put("/settings", response=SettingsOut, auth=requires_api("support.manage"))
def support_settings_save(request: ApiRequest, payload: SettingsIn) -> Any:
    return ticket_services.support_settings_save(
        first_answer_minutes=payload.first_answer_minutes,
        default_team_id=payload.default_team_id,
        actor=request.auth,
    )


class CalendarIn(Schema):
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 code: its holidays.")
    work_days: str = Field(max_length=7, description="Weekdays, Monday 0: '01234'.")
    work_start: ClockTime
    work_end: ClockTime


class CalendarOut(Schema):
    country: str
    work_days: str
    work_start: time
    work_end: time
    time_zone: str


@router.put("/calendar", response=CalendarOut, auth=requires_api("support.manage"))
def business_calendar_set(request: ApiRequest, payload: CalendarIn) -> Any:
    """The working calendar SLAs count in (the business's setting)."""
    return business_services.business_calendar_set(
        country=payload.country,
        work_days=payload.work_days,
        work_start=time.fromisoformat(payload.work_start),
        work_end=time.fromisoformat(payload.work_end),
        actor_id=getattr(request.auth, "pk", None),
    )


class PersonStandardOut(Schema):
    user_id: int
    name: str
    answered: int
    within: int
    average_minutes: float | None
    owned_active: int
    overdue_now: int
    made_urgent: int = Field(description="Tickets this person made urgent (each with a reason).")


class StandardsOut(Schema):
    minutes: int
    people: list[PersonStandardOut]
    without_owner: int
    overdue_without_owner: int


class SupportPeriodQuery(Schema):
    days: int = Field(30, ge=1, le=366)


@router.get("/standards", response=StandardsOut, auth=requires_api("support.view"))
def response_standards(request: ApiRequest, period: Query[SupportPeriodQuery]) -> Any:
    """Per person: first answers within the standard, what they own and what is overdue."""
    now = timezone.now()
    return selectors.response_standards(since=now - timedelta(days=period.days), now=now)


class CsatOut(Schema):
    answered: int
    average: float | None
    satisfied: int
    by_rating: dict[int, int]


@router.get("/csat", response=CsatOut, auth=requires_api("support.view"))
def csat_summary(request: ApiRequest, period: Query[SupportPeriodQuery]) -> Any:
    now = timezone.now()
    return selectors.csat_summary(since=now - timedelta(days=period.days), until=now)
