"""The satisfaction survey after a ticket is solved, and its answer."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events.services.recording import event_record
from procedo.support.models import Ticket

_SURVEY_SALT = "support.csat"


SURVEY_MAX_AGE = 60 * 60 * 24 * 30  # a month to answer


COMMENT_MAX = 2000


def survey_token(ticket_id: int) -> str:
    return signing.dumps({"t": ticket_id}, salt=_SURVEY_SALT, compress=True)


def survey_url(ticket_id: int) -> str:
    path = reverse("support:survey", args=[survey_token(ticket_id)])
    return f"{settings.PROCEDO_BASE_URL.rstrip('/')}{path}"


def survey_ticket(token: str) -> Ticket:
    """The ticket a survey link names; a link tampered with or too old is refused."""
    try:
        data = signing.loads(token, salt=_SURVEY_SALT, max_age=SURVEY_MAX_AGE)
        ticket_id = int(data["t"])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        raise DomainError(
            field="token", message=_("This survey link is not valid. Use the link we sent you.")
        ) from None
    ticket = Ticket.objects.select_related("conversation").filter(pk=ticket_id).first()
    if ticket is None:
        raise NotFound(field="token", message=_("This survey link is not valid."))
    return ticket


@transaction.atomic
def survey_answer(*, token: str, rating: Any, comment: str = "") -> Ticket:
    """The customer's rating (1–5) and comment, stored on the ticket once: a second
    answer through the same link is refused and the first one kept."""
    ticket = survey_ticket(token)
    try:
        score = int(rating)
    except (TypeError, ValueError):
        score = 0
    if not 1 <= score <= 5:
        raise DomainError(field="rating", message=_("Choose a rating from 1 to 5."))
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX:
        raise DomainError(
            field="comment",
            code="too_large",
            message=_("At most %(n)s characters.") % {"n": COMMENT_MAX},
        )
    now = timezone.now()
    # Compare-and-set: two submits of one link race here and only one finds it unanswered.
    changed = Ticket.objects.filter(pk=ticket.pk, csat_rating__isnull=True).update(
        csat_rating=score, csat_comment=comment, csat_answered_at=now
    )
    if changed != 1:
        raise Conflict(field="token", message=_("This survey was answered already. Thank you!"))
    event_record(
        event_type="ticket.rated",
        subject=ticket,
        customer_id=ticket.conversation.customer_id,
        payload={"rating": score},
    )
    ticket.csat_rating, ticket.csat_comment, ticket.csat_answered_at = score, comment, now
    return ticket
