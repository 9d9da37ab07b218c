"""How the log tells what happened in the support desk: conversations, tickets, SLAs, ratings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.events.models import Event
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.support.models import Conversation, ConversationStatus, Priority, SlaPolicy, Ticket


def _conversations(ids: Sequence[int]) -> Mapping[int, str]:
    rows = Conversation.objects.filter(pk__in=ids).values_list("pk", "subject", "address")
    return {pk: subject or address for pk, subject, address in rows}


def _tickets(ids: Sequence[int]) -> Mapping[int, str]:
    rows = Ticket.objects.filter(pk__in=ids).values_list("pk", "conversation__subject")
    return {pk: f"#{pk} {subject}".strip() for pk, subject in rows}


def _policies(ids: Sequence[int]) -> Mapping[int, str]:
    return {policy.pk: str(policy) for policy in SlaPolicy.objects.filter(pk__in=ids)}


def _status(value: Any) -> str:
    try:
        return str(ConversationStatus(value).label)
    except ValueError:
        return str(value or "")


def _moved(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {"from": _status(payload.get("from")), "to": _status(payload.get("to"))}


def _rating(event: Event, names: Names) -> dict[str, Any]:
    return {"rating": (event.payload or {}).get("rating", "")}


def _priority_label(value: Any) -> str:
    try:
        return str(Priority(value).label)
    except ValueError:
        return str(value or "")


def _priority_sentence(event: Event) -> Any:
    if (event.payload or {}).get("to") == Priority.URGENT:
        return gettext_lazy("%(actor)s made %(subject)s urgent: %(reason)s")
    return gettext_lazy("%(actor)s changed the priority of %(subject)s from %(from)s to %(to)s")


def _priority(event: Event, names: Names) -> dict[str, Any]:
    payload = event.payload or {}
    return {
        "from": _priority_label(payload.get("from")),
        "to": _priority_label(payload.get("to")),
        "reason": str(payload.get("reason", "")),
    }


def _breach(event: Event) -> Any:
    if (event.payload or {}).get("target") == "first_response":
        return gettext_lazy("%(subject)s: the first answer is late (SLA breached), escalated")
    return gettext_lazy("%(subject)s: the solution is late (SLA breached), escalated")


def timeline_register() -> None:
    subject_register("conversation", names=_conversations, url_name="support:conversation")
    subject_register("ticket", names=_tickets)
    subject_register("slapolicy", names=_policies, url_name="support:settings")
    sentence = sentence_register
    sentence("conversation.opened", gettext_lazy("The customer started a conversation %(subject)s"))
    sentence("conversation.message_received", gettext_lazy("The customer wrote in %(subject)s"))
    sentence("conversation.replied", gettext_lazy("%(actor)s answered in %(subject)s"))
    sentence("conversation.noted", gettext_lazy("%(actor)s added a note to %(subject)s"))
    sentence("conversation.assigned", gettext_lazy("%(actor)s changed the owner of %(subject)s"))
    sentence(
        "conversation.status_changed",
        gettext_lazy("%(actor)s moved %(subject)s from %(from)s to %(to)s"),
        _moved,
    )
    sentence(
        "conversation.reopened",
        gettext_lazy("%(subject)s opened again: the customer wrote after it was %(from)s"),
        _moved,
    )
    sentence(
        "conversation.waiting",
        gettext_lazy("%(subject)s waits for an answer past the response standard"),
    )
    sentence("conversation.reply_sent", gettext_lazy("The Telegram answer in %(subject)s was sent"))
    sentence(
        "conversation.reply_failed",
        gettext_lazy("The Telegram answer in %(subject)s was not sent"),
    )
    sentence(
        "conversation.reply_unknown",
        gettext_lazy("Whether the Telegram answer in %(subject)s arrived is unknown"),
    )
    sentence("ticket.opened", gettext_lazy("%(actor)s opened the ticket %(subject)s"))
    sentence("ticket.reopened", gettext_lazy("The ticket %(subject)s opened again"))
    sentence("ticket.solved", gettext_lazy("%(actor)s solved the ticket %(subject)s"))
    sentence("ticket.sla_breached", _breach)
    sentence("ticket.priority_changed", _priority_sentence, _priority)
    sentence(
        "ticket.rated",
        gettext_lazy("The customer rated the ticket %(subject)s %(rating)s of 5"),
        _rating,
    )
    sentence("sla_policy.saved", gettext_lazy("%(actor)s saved the SLA policy %(subject)s"))
    sentence("ticket_category.created", gettext_lazy("%(actor)s added a ticket category"))
    sentence("support_settings.saved", gettext_lazy("%(actor)s changed the response standard"))
