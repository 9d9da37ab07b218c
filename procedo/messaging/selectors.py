"""Reads for the message log, the templates list and the customer card."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy, pgettext_lazy

from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page
from procedo.messaging.models import InboundMessage, Message, MessageState, Provider, Template
from procedo.messaging.registry import sop_sources
from procedo.messaging.services.sending import RESENT_AUTOMATICALLY
from procedo.messaging.transports import outbox_directory, outbox_path

# Headers worth showing a person from the outbox copy; the rest is in the raw text.
OUTBOX_HEADERS = ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe")


@dataclass(frozen=True)
class MessageFilters:
    customer_id: int | None = None
    state: str = ""
    channel: str = ""
    kind: str = ""
    source: str = ""
    sop_id: int | None = None
    campaign: str = ""
    needs_decision: bool = False
    # Staff notifications (a task escalated, a review asked) apart from customers' messages.
    staff: bool = False


# What procedo.collab queues when it emails a person about their work ("notification:<kind>").
STAFF_SOURCE = "notification:"


def needs_decision() -> Q:
    """`unknown` rows the sender will not send again by itself: a person says sent, or again."""
    return Q(state=MessageState.UNKNOWN) & ~RESENT_AUTOMATICALLY


def messages_needing_decision_count() -> int:
    # `unknown` is in the partial index of active rows: a count over a few rows.
    return Message.objects.filter(needs_decision()).count()


def _messages_filtered(filters: MessageFilters) -> QuerySet[Message]:
    rows: QuerySet[Message] = Message.objects.defer("body", "body_html")
    staff = Q(source__startswith=STAFF_SOURCE)
    rows = rows.filter(staff) if filters.staff else rows.exclude(staff)
    if filters.customer_id is not None:
        rows = rows.filter(customer_id=filters.customer_id)
    if filters.state:
        rows = rows.filter(state=filters.state)
    if filters.needs_decision:
        rows = rows.filter(needs_decision())
    if filters.channel:
        rows = rows.filter(channel=filters.channel)
    if filters.kind:
        rows = rows.filter(kind=filters.kind)
    if filters.source:
        # "sop_run" finds every SOP run's messages; "sop_run:12" one run's.
        rows = rows.filter(source__startswith=filters.source)
    if filters.sop_id is not None:
        provider = sop_sources()
        rows = rows.filter(source__in=provider.sources(filters.sop_id)) if provider else rows.none()
    if filters.campaign:
        # A campaign queues with source "campaign:<id>" (keys "campaign:<id>:customer:<id>").
        campaign = f"campaign:{filters.campaign}"
        rows = rows.filter(Q(source=campaign) | Q(source__startswith=f"{campaign}:"))
    return rows


def messages_list(
    *, filters: MessageFilters, cursor: str | None = None, limit: int = 50
) -> Page[Message]:
    """Newest first, by keyset on id (the log grows without bound; OFFSET would not keep up)."""
    return keyset_page(_messages_filtered(filters), order=["-id"], cursor=cursor, limit=limit)


# The message log as a file (procedo/core/exports.py): what was sent, to whom, how it went.
MESSAGE_COLUMNS = (
    Column(gettext_lazy("ID"), lambda m: m.pk),
    Column(gettext_lazy("Queued"), lambda m: m.created_at),
    Column(gettext_lazy("Channel"), lambda m: m.get_channel_display()),
    Column(gettext_lazy("Kind"), lambda m: m.get_kind_display()),
    Column(gettext_lazy("To"), lambda m: m.recipient),
    Column(gettext_lazy("Customer ID"), lambda m: m.customer_id),
    Column(pgettext_lazy("email", "Subject"), lambda m: m.subject),
    Column(gettext_lazy("Template"), lambda m: m.template_key),
    Column(gettext_lazy("State"), lambda m: m.get_state_display()),
    Column(gettext_lazy("Attempts"), lambda m: m.attempts),
    Column(gettext_lazy("Sent"), lambda m: m.sent_at),
    Column(gettext_lazy("Delivery"), lambda m: m.delivery_status),
    Column(gettext_lazy("Reason"), lambda m: m.reason),
    Column(gettext_lazy("Source"), lambda m: m.source),
)


def message_export_rows(filters: MessageFilters) -> Iterator[Message]:
    """Every message the log shows with these filters, newest first, read in batches."""
    return keyset_all(_messages_filtered(filters), order=["-id"])


def sops_for_filter() -> list[tuple[int, str]]:
    provider = sop_sources()
    return provider.choices() if provider else []


def inbound_list(
    *, customer_id: int | None = None, cursor: str | None = None, limit: int = 50
) -> Page[InboundMessage]:
    rows: QuerySet[InboundMessage] = InboundMessage.objects.defer("raw")
    if customer_id is not None:
        rows = rows.filter(customer_id=customer_id)
    return keyset_page(rows, order=["-id"], cursor=cursor, limit=limit)


def inbound_get(*, inbound_id: int) -> InboundMessage | None:
    return InboundMessage.objects.select_related("in_reply_to").filter(pk=inbound_id).first()


def message_get(*, message_id: int) -> Message | None:
    return Message.objects.filter(pk=message_id).first()


def messages_of_customer(*, customer_id: int, limit: int = 10) -> list[Message]:
    return list(
        Message.objects.filter(customer_id=customer_id)
        .defer("body", "body_html")
        .order_by("-id")[:limit]
    )


def inbound_of_customer(*, customer_id: int, limit: int = 10) -> list[InboundMessage]:
    return list(
        InboundMessage.objects.filter(customer_id=customer_id).defer("raw").order_by("-id")[:limit]
    )


def templates_list() -> list[Template]:
    return list(Template.objects.order_by("name", "id"))


def template_get(*, template_id: int) -> Template | None:
    return Template.objects.filter(pk=template_id).first()


def message_counts_since(since: datetime) -> dict[str, int]:
    """Messages created since then, by state (sent, failed, queued, …): one grouped query."""
    return dict(
        Message.objects.filter(created_at__gte=since)
        .values("state")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("state", "n")
    )


@dataclass(frozen=True)
class OutboxCopy:
    """An email as the outbox holds it: what the recipient would have got."""

    path: Path
    headers: list[tuple[str, str]]
    text: str
    html: str
    raw: str


def email_outbox() -> Path | None:
    """The outbox directory when email goes there (EMAIL_URL=outbox, the default)."""
    return outbox_directory()


def message_outbox_copy(*, message: Message) -> OutboxCopy | None:
    """The outbox's file of a message delivered there; None if it went elsewhere or is gone."""
    if message.provider != Provider.OUTBOX or message.state != MessageState.SENT:
        return None
    directory = outbox_directory()
    if directory is None:  # delivered to an outbox once, configured for SMTP since
        return None
    path = outbox_path(message, directory)
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    text_part = parsed.get_body(preferencelist=("plain",))
    html_part = parsed.get_body(preferencelist=("html",))
    return OutboxCopy(
        path=path,
        headers=[(name, str(parsed[name])) for name in OUTBOX_HEADERS if parsed[name]],
        text=text_part.get_content() if isinstance(text_part, EmailMessage) else "",
        html=html_part.get_content() if isinstance(html_part, EmailMessage) else "",
        raw=raw.decode("utf-8", "replace"),
    )
