"""Meetings: booked on a deal, confirmed to the customer and reminded before."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.urls import reverse
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.business.selectors import business_get
from procedo.collab.models import NotificationKind
from procedo.collab.services import notify
from procedo.core.actors import actor_id_of
from procedo.core.bounds import moment_check
from procedo.core.errors import Conflict, DomainError
from procedo.core.idempotency import idempotent
from procedo.customers.models import ConsentState, Identity, IdentityKind
from procedo.messaging.models import Channel
from procedo.messaging.services.queueing import message_queue
from procedo.sales.models import Deal, Meeting
from procedo.sales.services._common import TEXT_MAX, _record, _text
from procedo.sales.services.deals import _deal
from procedo.work.models import Priority
from procedo.work.services.lifecycle import task_create

# The customer hears of a meeting when it is booked and again within this time of it.
REMIND_BEFORE = timedelta(hours=24)


def _reachable(customer_id: int) -> tuple[str, str] | None:
    """(channel, address) of the customer's identity that agreed to hear from us, if any."""
    identity = (
        Identity.objects.filter(customer_id=customer_id, marketing_consent=ConsentState.GRANTED)
        .order_by("kind", "pk")  # email before phone
        .values_list("kind", "value")
        .first()
    )
    if identity is None:
        return None
    kind, value = identity
    return (Channel.EMAIL if kind == IdentityKind.EMAIL else Channel.SMS), value


def _when(moment: datetime) -> str:
    local = timezone.localtime(moment, business_get().zone)
    return formats.date_format(local, "DATETIME_FORMAT")


def _meeting_message(meeting: Meeting, deal: Deal, *, key: str, reminder: bool) -> None:
    reach = _reachable(deal.customer_id)
    if reach is None:
        return
    channel, address = reach
    business = business_get()
    # In the store's language (dates too), whoever booked it; the worker sends reminders.
    with translation.override(business.language):
        text = (
            _("A reminder: our meeting about %(title)s is at %(when)s. — %(business)s")
            if reminder
            else _("Our meeting about %(title)s is booked for %(when)s. — %(business)s")
        ) % {"title": deal.title, "when": _when(meeting.starts_at), "business": business.name}
        subject = _("Meeting at %(when)s") % {"when": _when(meeting.starts_at)}
    message_queue(
        channel=channel,
        recipient=address,
        subject=subject,
        body=text,
        customer_id=deal.customer_id,
        source=f"deal:{deal.pk}",
        idempotency_key=key,
    )


def _owner_notify(meeting: Meeting, deal: Deal, *, key: str, owner_id: int | None) -> None:
    if owner_id is None:
        return
    notify(
        recipient_ids=[owner_id],
        kind=NotificationKind.ASSIGNED,
        title=_("Meeting on %(title)s at %(when)s")
        % {"title": deal.title, "when": _when(meeting.starts_at)},
        url=reverse("sales:deal", args=[deal.pk]),
        subject_type="deal",
        subject_id=deal.pk,
        key=key,
    )


@idempotent("meeting.book", replay=lambda pk: Meeting.objects.get(pk=pk))
@transaction.atomic
def meeting_book(
    *,
    deal_id: int,
    starts_at: datetime,
    title: str = "",
    actor: Actor,
    idempotency_key: str | None = None,
) -> Meeting:
    """A meeting on a deal: a task at its time for the owner, a word to the customer."""
    deal = _deal(deal_id)
    moment_check(starts_at, field="starts_at")
    if starts_at <= timezone.now():
        raise DomainError(field="starts_at", message=_("A meeting is booked in the future."))
    if deal.closed_at is not None:
        raise Conflict(field="deal_id", message=_("The deal is closed."))
    clean = _text("title", title, TEXT_MAX) or _("Meeting: %(title)s") % {"title": deal.title}
    meeting = Meeting.objects.create(deal=deal, title=clean, starts_at=starts_at)
    owner_id = deal.owner_id or actor_id_of(actor)
    task = task_create(
        title=clean,
        actor=actor,
        subject_type="deal",
        subject_id=deal.pk,
        customer_id=deal.customer_id,
        assignee_user_id=owner_id,
        assignee_role="" if owner_id else "manager",
        due_at=starts_at,
        priority=Priority.HIGH,
        idempotency_key=f"meeting:{meeting.pk}:task",
    )
    Meeting.objects.filter(pk=meeting.pk).update(task_id=task.pk)
    meeting.task_id = task.pk
    _record(
        "meeting.booked",
        deal,
        actor=actor,
        customer_id=deal.customer_id,
        payload={"meeting": meeting.pk, "starts_at": starts_at.isoformat(), "task": task.pk},
    )
    _meeting_message(meeting, deal, key=f"meeting:{meeting.pk}:booked", reminder=False)
    _owner_notify(meeting, deal, key=f"meeting:{meeting.pk}:booked", owner_id=owner_id)
    return meeting


@transaction.atomic
def meeting_reminders_send(*, now: datetime | None = None) -> int:
    """Remind both sides of the meetings starting within REMIND_BEFORE, once each.

    The claim is one UPDATE of the rows not reminded yet; a second worker running
    the same sweep claims nothing, and the message and notification keys make a
    retry after a crash send nothing twice.
    """
    now = now or timezone.now()
    due = list(
        Meeting.objects.filter(
            reminded_at__isnull=True, starts_at__gt=now, starts_at__lte=now + REMIND_BEFORE
        ).values_list("pk", flat=True)[:500]
    )
    claimed = Meeting.objects.filter(pk__in=due, reminded_at__isnull=True).update(reminded_at=now)
    if not claimed:
        return 0
    meetings = Meeting.objects.filter(pk__in=due, reminded_at=now).select_related("deal")
    for meeting in meetings:
        deal = meeting.deal
        if deal.closed_at is not None:
            continue
        key = f"meeting:{meeting.pk}:reminder"
        _meeting_message(meeting, deal, key=key, reminder=True)
        _owner_notify(meeting, deal, key=key, owner_id=deal.owner_id)
        _record(
            "meeting.reminded",
            deal,
            actor=None,
            customer_id=deal.customer_id,
            payload={"meeting": meeting.pk},
        )
    return claimed
