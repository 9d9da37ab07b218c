"""Campaigns: an audience segment, a template and a schedule, sent through messaging with a
holdout, each recipient once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.events.services.recording import event_record
from procedo.marketing import selectors
from procedo.marketing.models import (
    Campaign,
    CampaignRecipient,
    CampaignState,
    Segment,
)
from procedo.marketing.services._common import (
    MAX_ATTRIBUTION_DAYS,
    MAX_HOLDOUT,
    _moment,
    _name_clean,
)


def _campaign_values_clean(
    *, segment_id: int, template_id: int, holdout_percent: int, attribution_days: int
) -> tuple[Segment, Any]:
    from procedo.messaging.models import Template

    segment = selectors.segment_get(segment_id)
    template = Template.objects.filter(pk=template_id).first()
    if template is None:
        raise NotFound(field="template_id", message=_("No template %(id)s.") % {"id": template_id})
    if not 0 <= holdout_percent <= MAX_HOLDOUT:
        raise DomainError(
            field="holdout_percent",
            message=_("Hold out from 0 to %(n)s %% of the audience.") % {"n": MAX_HOLDOUT},
        )
    if not 1 <= attribution_days <= MAX_ATTRIBUTION_DAYS:
        raise DomainError(
            field="attribution_days",
            message=_("Attribute orders within 1 to %(n)s days.") % {"n": MAX_ATTRIBUTION_DAYS},
        )
    return segment, template


def _audience_check(segment: Segment, channel: str) -> int:
    """The number who would get it; a refusal naming the segment when nobody would."""
    audience = selectors.segment_customers(segment)
    if not audience.exists():
        raise DomainError(
            field="segment_id",
            message=_("The segment “%(name)s” has no customers: nothing to send.")
            % {"name": segment.name},
        )
    reachable = selectors.consented(audience, channel).count()
    if not reachable:
        raise DomainError(
            field="segment_id",
            message=_(
                "No customer of the segment “%(name)s” has given marketing consent for "
                "%(channel)s: nothing to send."
            )
            % {"name": segment.name, "channel": channel},
        )
    return reachable


@idempotent("campaign.create", replay=lambda pk: Campaign.objects.get(pk=pk))
@transaction.atomic
def campaign_create(
    *,
    name: str,
    segment_id: int,
    template_id: int,
    scheduled_at: datetime | None,
    holdout_percent: int,
    attribution_days: int,
    actor: Actor,
    idempotency_key: str | None = None,
) -> Campaign:
    """A draft (or, with `scheduled_at`, a scheduled) campaign; refused if nobody would get it."""
    segment, template = _campaign_values_clean(
        segment_id=segment_id,
        template_id=template_id,
        holdout_percent=holdout_percent,
        attribution_days=attribution_days,
    )
    _audience_check(segment, template.channel)
    if scheduled_at is not None and scheduled_at < timezone.now():
        raise DomainError(field="scheduled_at", message=_("Schedule it in the future."))
    campaign = Campaign.objects.create(
        name=_name_clean(name),
        segment=segment,
        template=template,
        scheduled_at=scheduled_at,
        holdout_percent=holdout_percent,
        attribution_days=attribution_days,
        state=CampaignState.SCHEDULED if scheduled_at else CampaignState.DRAFT,
        created_by=actor_person(actor),
    )
    event_record(
        event_type="campaign.created",
        subject=campaign,
        actor=actor,
        payload={"name": campaign.name, "segment_id": segment.pk, "state": campaign.state},
        idempotency_key=idempotency_key,
    )
    return campaign


# Holdout: a stable hash of (customer, campaign) into 0..99, in integer arithmetic that
# SQLite and PostgreSQL compute alike, so a resend after a crash holds out the same people.
# The multiplier is about 0.618 of the modulus, so neighbouring ids land far apart.
_MODULUS, _MULTIPLIER = 1_000_003, 618_034


def _salt(campaign_id: int) -> int:
    return (campaign_id * 40503 + 17) % _MODULUS


def holdout_bucket(customer_id: int, campaign_id: int) -> int:
    """0..99; the customer is held out of the campaign when it is below its holdout share."""
    return (customer_id * _MULTIPLIER + _salt(campaign_id)) % _MODULUS * 100 // _MODULUS


def _bucket(campaign_id: int) -> Any:
    """`holdout_bucket` in SQL, over the customers' ids."""
    return (F("pk") * _MULTIPLIER + _salt(campaign_id)) % _MODULUS * 100 / _MODULUS


def _recipients_insert(campaign: Campaign, now: datetime) -> None:
    """The audience as it is now, in one INSERT … SELECT; a repeat adds nobody twice."""
    audience = selectors.consented(
        selectors.segment_customers(campaign.segment, now=now), campaign.template.channel
    )
    sql, params = (
        audience.annotate(c_id=F("pk"), c_bucket=_bucket(campaign.pk))
        .values("c_id", "c_bucket")
        .query.sql_with_params()
    )
    q = connection.ops.quote_name
    table = q(CampaignRecipient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (campaign_id, customer_id, held_out, created_at) "  # noqa: S608
            f"SELECT %s, src.c_id, src.c_bucket < %s, %s FROM ({sql}) src WHERE true "
            "ON CONFLICT (campaign_id, customer_id) DO NOTHING",
            [campaign.pk, int(campaign.holdout_percent), _moment(now), *params],
        )


def _outgoing(campaign: Campaign) -> list[Any]:
    from procedo.customers.models import Identity
    from procedo.messaging.services.queueing import Outgoing

    kind = "email" if campaign.template.channel == "email" else "phone"
    address = (
        Identity.objects.filter(
            customer_id=OuterRef("customer_id"), kind=kind, marketing_consent="granted"
        )
        .order_by("id")
        .values("value")[:1]
    )
    rows = (
        CampaignRecipient.objects.filter(campaign=campaign, held_out=False)
        .annotate(address=Subquery(address))
        .exclude(address=None)
        .order_by("customer_id")
        .values_list("customer_id", "address")
    )
    return [
        Outgoing(
            recipient=to,
            # The ledger's own key: a retried send finds the row and queues nothing.
            idempotency_key=f"{campaign.source}:customer:{customer_id}",
            customer_id=customer_id,
        )
        for customer_id, to in rows
    ]


@idempotent("campaign.send", replay=lambda pk: Campaign.objects.get(pk=pk))
@transaction.atomic
def campaign_send(
    *,
    campaign_id: int,
    actor: Actor,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Campaign:
    """Choose the audience, hold out its share and queue one message per reachable customer.

    One transaction: a crash leaves the campaign as it was, and a retry does it all
    again; the messages' keys (`campaign:<id>:customer:<id>`) make a message queued
    twice impossible anyway. Consent, quiet hours and the frequency cap are applied
    by the sender when each message goes out (procedo.messaging.services.unsubscribe).
    """
    from procedo.messaging.models import MessageKind
    from procedo.messaging.services.queueing import messages_queue_many

    now = now or timezone.now()
    campaign = selectors.campaign_get(campaign_id)
    if campaign.state == CampaignState.SENT:
        return campaign
    if campaign.state == CampaignState.CANCELLED:
        raise Conflict(field="state", message=_("The campaign was cancelled."))
    _audience_check(campaign.segment, campaign.template.channel)
    moved = Campaign.objects.filter(
        pk=campaign.pk, state__in=[CampaignState.DRAFT, CampaignState.SCHEDULED]
    ).update(state=CampaignState.SENDING, started_at=now)
    if moved != 1:
        raise Conflict(field="state", message=_("The campaign is being sent already."))
    campaign.started_at = now
    _recipients_insert(campaign, now)
    queued = messages_queue_many(
        channel=campaign.template.channel,
        kind=MessageKind.MARKETING,
        items=_outgoing(campaign),
        source=campaign.source,
        template_key=campaign.template.key,
    )
    held = CampaignRecipient.objects.filter(campaign=campaign, held_out=True).count()
    Campaign.objects.filter(pk=campaign.pk).update(state=CampaignState.SENT)
    campaign.state = CampaignState.SENT
    event_record(
        event_type="campaign.sent",
        subject=campaign,
        actor=actor,
        payload={"queued": queued, "held_out": held},
        idempotency_key=idempotency_key or f"{campaign.source}:sent",
    )
    return campaign


@transaction.atomic
def campaign_cancel(*, campaign_id: int, actor: Actor) -> Campaign:
    campaign = selectors.campaign_get(campaign_id)
    moved = Campaign.objects.filter(
        pk=campaign.pk, state__in=[CampaignState.DRAFT, CampaignState.SCHEDULED]
    ).update(state=CampaignState.CANCELLED)
    if moved != 1:
        raise Conflict(field="state", message=_("Only a campaign not sent yet can be cancelled."))
    campaign.state = CampaignState.CANCELLED
    event_record(event_type="campaign.cancelled", subject=campaign, actor=actor)
    return campaign


def campaigns_send_due(*, now: datetime | None = None) -> int:
    """Send the scheduled campaigns whose time has come; one refused is left for a person."""
    now = now or timezone.now()
    sent = 0
    due = Campaign.objects.filter(state=CampaignState.SCHEDULED, scheduled_at__lte=now)
    for campaign_id in due.values_list("pk", flat=True)[:20]:
        try:
            campaign_send(
                campaign_id=campaign_id,
                actor=None,
                idempotency_key=f"campaign:{campaign_id}:scheduled",
                now=now,
            )
            sent += 1
        except DomainError as exc:
            with transaction.atomic():
                Campaign.objects.filter(pk=campaign_id, state=CampaignState.SCHEDULED).update(
                    state=CampaignState.DRAFT
                )
                event_record(
                    event_type="campaign.refused",
                    subject_type="campaign",
                    subject_id=campaign_id,
                    payload={"field": exc.field, "reason": exc.message},
                )
    return sent
