"""Reads for the message log, the templates list and the customer card."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from procedo.core.paging import Page, keyset_page
from procedo.messaging.models import Message, Template


@dataclass(frozen=True)
class MessageFilters:
    customer_id: int | None = None
    state: str = ""
    channel: str = ""
    kind: str = ""
    source: str = ""


def messages_list(
    *, filters: MessageFilters, cursor: str | None = None, limit: int = 50
) -> Page[Message]:
    """Newest first, by keyset on id (the log grows without bound; OFFSET would not keep up)."""
    rows: QuerySet[Message] = Message.objects.defer("body", "body_html")
    if filters.customer_id is not None:
        rows = rows.filter(customer_id=filters.customer_id)
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.source:
        # "sop_run" finds every SOP run's messages; "sop_run:12" one run's.
        rows = rows.filter(source__startswith=filters.source)
    return keyset_page(rows, order=["-id"], cursor=cursor, limit=limit)


def message_get(*, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id).first()


def messages_of_customer(*, customer_id: int, limit: int = 10) -> list[Message]:
    return list(
        Message.objects.filter(customer_id=customer_id)
        .defer("body", "body_html")
        .order_by("-id")[:limit]
    )


def templates_list() -> list[Template]:
    return list(Template.objects.order_by("name", "id"))


def template_get(*, template_id: int) -> Template | None:
    return Template.objects.filter(pk=template_id).first()
