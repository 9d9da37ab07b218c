"""Messages and templates over REST: what the pages do, for programs. Thin.

Errors are `{"detail", "field", "code"}`: 422 a template that does not render (the
message names the line), 404 an unknown id, 403 a role without `messaging.view` /
`messaging.templates`, 409 a decision on a message that no longer waits for one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Cursor,
    Id,
    LongText,
    PageLimit,
    PathId,
    ShortText,
)
from procedo.core.errors import NotFound
from procedo.core.exports import filters_known
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.events.exports import export_stream
from procedo.messaging import selectors
from procedo.messaging.models import Message, Template
from procedo.messaging.services import queueing as queue_services
from procedo.messaging.services import templates as template_services

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


class MessageFilterQuery(Schema):
    """The message log page's filters, by the page's names."""

    customer: Id | None = None
    state: ShortText = ""
    channel: ShortText = ""
    kind: ShortText = ""
    source: ShortText = Field("", description="A prefix: `sop_run` for every run's messages.")
    sop: Id | None = Field(None, description="The messages of this SOP's runs.")
    campaign: ShortText = ""
    decision: bool = Field(
        False, description="Only `unknown` messages the sender will not send again by itself."
    )
    needs_decision: bool = Field(
        False, description="The former name of `decision`.", json_schema_extra={"deprecated": True}
    )

    def selection(self) -> selectors.MessageFilters:
        return selectors.MessageFilters(
            customer_id=self.customer,
            state=self.state,
            channel=self.channel,
            kind=self.kind,
            source=self.source,
            sop_id=self.sop,
            campaign=self.campaign,
            needs_decision=self.decision or self.needs_decision,
        )


class MessageListQuery(MessageFilterQuery):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class MessageExportQuery(MessageFilterQuery):
    format: ExportFormat = "csv"


class TemplateIn(Schema):
    key: str = Field(min_length=1, max_length=80)
    name: str = Field(min_length=1, max_length=200)
    channel: ChannelIn = "email"
    kind: KindIn = "transactional"
    subject: str = Field("", max_length=300)
    body_text: LongText = Field(min_length=1)
    body_html: LongText = ""


class TemplateOut(TemplateIn):
    id: int
    updated_at: datetime


class PreviewIn(Schema):
    channel: ChannelIn = "email"
    subject: ShortText = ""
    body_text: LongText = Field(min_length=1)
    body_html: LongText = ""
    customer_id: Id | None = None
    order_id: Id | None = None


class TemplatePreviewOut(Schema):
    subject: str
    body_text: str
    body_html: str


@router.get("", response=MessagePageOut, auth=requires_api("messaging.view"))
def messages_list(request: ApiRequest, filters: Query[MessageListQuery]) -> dict[str, Any]:
    """The message log, newest first, one keyset page at a time."""
    page = selectors.messages_list(
        filters=filters.selection(), cursor=filters.cursor, limit=filters.limit
    )
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/export", auth=requires_api("messaging.view"), openapi_extra=EXPORT_RESPONSE)
def messages_export(
    request: ApiRequest, filters: Query[MessageExportQuery]
) -> StreamingHttpResponse:
    """The message log as a CSV (UTF-8 with a BOM) or XLSX file, streamed and recorded."""
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="messages",
        fmt=filters.format,
        filters=filters_known(request.GET, MessageExportQuery.model_fields),
        columns=selectors.MESSAGE_COLUMNS,
        rows=selectors.message_export_rows(filters.selection()),
    )


@router.get("/templates", response=list[TemplateOut], auth=requires_api("messaging.view"))
def templates_list(request: ApiRequest) -> list[Template]:
    return selectors.templates_list()


@router.post("/templates", response={201: TemplateOut}, auth=requires_api("messaging.templates"))
def template_create(request: ApiRequest, payload: TemplateIn) -> Status:
    return Status(
        201, template_services.template_save(template_id=None, actor=request.auth, **payload.dict())
    )


@router.put(
    "/templates/{int:template_id}", response=TemplateOut, auth=requires_api("messaging.templates")
)
def template_save(request: ApiRequest, template_id: PathId, payload: TemplateIn) -> Template:
    return template_services.template_save(
        template_id=template_id, actor=request.auth, **payload.dict()
    )


@router.post(
    "/templates/preview", response=TemplatePreviewOut, auth=requires_api("messaging.templates")
)
def template_preview(request: ApiRequest, payload: PreviewIn) -> Any:
    """Render unsaved text for a real customer (and order); nothing is stored."""
    return template_services.template_preview(**payload.dict())


@router.get("/{int:message_id}", response=MessageDetailOut, auth=requires_api("messaging.view"))
def message_detail(request: ApiRequest, message_id: PathId) -> Message:
    message = selectors.message_get(message_id=message_id)
    if message is None:
        raise NotFound(field="message_id", message=_("No message %(id)s.") % {"id": message_id})
    return message


@router.post(
    "/{int:message_id}/mark-sent",
    response=MessageDetailOut,
    auth=requires_api("messaging.templates"),
)
def message_mark_sent(
    request: ApiRequest, message_id: PathId, idempotency_key: str | None = idempotency_header()
) -> Message:
    """A message in `unknown` did arrive (a person checked): it becomes `sent`.

    409 on `state` if it is neither `unknown` nor already `sent`. The same
    Idempotency-Key answers as the first time.
    """
    return queue_services.message_mark_sent(
        message_id=message_id, actor=request.auth, idempotency_key=api_key(idempotency_key)
    )


@router.post(
    "/{int:message_id}/resend",
    response=MessageDetailOut,
    auth=requires_api("messaging.templates"),
)
def message_resend(
    request: ApiRequest, message_id: PathId, idempotency_key: str | None = idempotency_header()
) -> Message:
    """Send a message in `unknown` again (it may arrive twice): queued now, with who asked.

    409 on `state` if it is not `unknown`. The same Idempotency-Key queues it once.
    """
    return queue_services.message_resend(
        message_id=message_id, actor=request.auth, idempotency_key=api_key(idempotency_key)
    )


class InboundOut(Schema):
    id: int
    channel: str
    sender: str
    recipient: str
    subject: str
    body: str
    customer_id: int | None
    in_reply_to_id: int | None = Field(description="Our message it answers, if it was matched.")
    is_support_reply: bool
    received_at: datetime
    raw: str = Field(description="The message as received (RFC 822, or the webhook's form).")


@router.get("/inbound/{int:inbound_id}", response=InboundOut, auth=requires_api("messaging.view"))
def inbound_detail(request: ApiRequest, inbound_id: PathId) -> dict[str, Any]:
    """A message a customer sent us, with what it was matched to."""
    inbound = selectors.inbound_get(inbound_id=inbound_id)
    if inbound is None:
        raise NotFound(field="inbound_id", message=_("No such received message."))
    return {
        **{name: getattr(inbound, name) for name in InboundOut.model_fields if name != "raw"},
        "raw": bytes(inbound.raw).decode("utf-8", "replace"),
    }
