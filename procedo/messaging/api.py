"""Messages and templates over REST: what the pages do, for programs. Thin.

Errors are `{"detail", "field"}`: 422 a template that does not render (the
message names the line), 404 an unknown id, 403 a role without `messaging.view` /
`messaging.templates`, 409 a decision on a message that no longer waits for one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Header, Query, Router, Schema
from ninja.responses import Status

from procedo.accounts.permissions import permission_require
from procedo.core.errors import NotFound
from procedo.messaging import selectors, services
from procedo.messaging.models import Message, Template

router = Router(tags=["messages"])

ChannelIn = Literal["email", "sms"]
KindIn = Literal["transactional", "marketing"]


class MessageOut(Schema):
    id: int
    channel: str
    kind: str
    state: str = Field(description="queued, sending, sent, failed, unknown or suppressed.")
    recipient: str
    customer_id: int | None
    subject: str
    message_id: str = Field(description="The email's Message-ID, the same on every attempt.")
    attempts: int
    answer: str = Field(description="The server's last answer, e.g. '550 5.1.1 No such user'.")
    reason: str = Field(
        description="Why it was suppressed, deferred or given up, or who decided its fate."
    )
    deferred_until: datetime | None
    sent_at: datetime | None
    source: str
    template_key: str
    created_at: datetime


class MessageDetailOut(MessageOut):
    body: str
    body_html: str


class MessagePageOut(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class MessageListQuery(Schema):
    customer: int | None = None
    state: str = ""
    channel: str = ""
    kind: str = ""
    source: str = ""
    needs_decision: bool = Field(
        False, description="Only `unknown` messages the sender will not send again by itself."
    )
    cursor: str | None = None
    limit: int = Field(50, ge=1, le=200)


class TemplateIn(Schema):
    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    channel: ChannelIn = "email"
    kind: KindIn = "transactional"
    subject: str = Field("", max_length=300)
    body_text: str = Field(min_length=1)
    body_html: str = ""


class TemplateOut(TemplateIn):
    id: int
    updated_at: datetime


class PreviewIn(Schema):
    channel: ChannelIn = "email"
    subject: str = ""
    body_text: str = Field(min_length=1)
    body_html: str = ""
    customer_id: int | None = None
    order_id: int | None = None


class PreviewOut(Schema):
    subject: str
    body_text: str
    body_html: str


def _user(request: HttpRequest) -> Any:
    return request.auth  # type: ignore[attr-defined]


# An Event's idempotency key is at most 200 characters, "api:" included.
IdempotencyKey = Header(default=None, alias="Idempotency-Key", max_length=150)


def _key(idempotency_key: str | None) -> str | None:
    return f"api:{idempotency_key}" if idempotency_key else None


@router.get("", response=MessagePageOut)
def messages_list(request: HttpRequest, filters: Query[MessageListQuery]) -> dict[str, Any]:
    """The message log, newest first, one keyset page at a time."""
    permission_require(_user(request), "messaging.view")
    page = selectors.messages_list(
        filters=selectors.MessageFilters(
            customer_id=filters.customer,
            state=filters.state,
            channel=filters.channel,
            kind=filters.kind,
            source=filters.source,
            needs_decision=filters.needs_decision,
        ),
        cursor=filters.cursor,
        limit=filters.limit,
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/templates", response=list[TemplateOut])
def templates_list(request: HttpRequest) -> list[Template]:
    permission_require(_user(request), "messaging.view")
    return selectors.templates_list()


@router.post("/templates", response={201: TemplateOut})
def template_create(request: HttpRequest, payload: TemplateIn) -> Status:
    permission_require(_user(request), "messaging.templates")
    return Status(
        201, services.template_save(template_id=None, actor=_user(request), **payload.dict())
    )


@router.put("/templates/{template_id}", response=TemplateOut)
def template_save(request: HttpRequest, template_id: int, payload: TemplateIn) -> Template:
    permission_require(_user(request), "messaging.templates")
    return services.template_save(template_id=template_id, actor=_user(request), **payload.dict())


@router.post("/templates/preview", response=PreviewOut)
def template_preview(request: HttpRequest, payload: PreviewIn) -> Any:
    """Render unsaved text for a real customer (and order); nothing is stored."""
    permission_require(_user(request), "messaging.templates")
    return services.template_preview(**payload.dict())


@router.get("/{message_id}", response=MessageDetailOut)
def message_detail(request: HttpRequest, message_id: int) -> Message:
    permission_require(_user(request), "messaging.view")
    message = selectors.message_get(message_id=message_id)
    if message is None:
        raise NotFound(field="message_id", message=f"no message with id {message_id}")
    return message


@router.post("/{message_id}/mark-sent", response=MessageDetailOut)
def message_mark_sent(
    request: HttpRequest, message_id: int, idempotency_key: str | None = IdempotencyKey
) -> Message:
    """A message in `unknown` did arrive (a person checked): it becomes `sent`.

    409 on `state` if it is neither `unknown` nor already `sent`. The same
    Idempotency-Key answers as the first time.
    """
    permission_require(_user(request), "messaging.templates")
    return services.message_mark_sent(
        message_id=message_id, actor=_user(request), idempotency_key=_key(idempotency_key)
    )


@router.post("/{message_id}/resend", response=MessageDetailOut)
def message_resend(
    request: HttpRequest, message_id: int, idempotency_key: str | None = IdempotencyKey
) -> Message:
    """Send a message in `unknown` again (it may arrive twice): queued now, with who asked.

    409 on `state` if it is not `unknown`. The same Idempotency-Key queues it once.
    """
    permission_require(_user(request), "messaging.templates")
    return services.message_resend(
        message_id=message_id, actor=_user(request), idempotency_key=_key(idempotency_key)
    )
