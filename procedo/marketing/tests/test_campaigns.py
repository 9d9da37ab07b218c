"""A campaign goes to the consenting part of its segment over real SMTP, holds out a share,
never sends twice, and counts what followed."""

from __future__ import annotations

from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from django.utils import timezone

from procedo.core.errors import DomainError
from procedo.events.models import Event
from procedo.marketing import selectors
from procedo.marketing.models import Campaign, CampaignRecipient, Segment
from procedo.marketing.services import campaigns as campaigns_services
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import segments as segments_services
from procedo.marketing.tests.conftest import Store
from procedo.messaging.models import Message, Template
from procedo.messaging.services.sending import messages_send_due
from procedo.messaging.services.templates import template_save
from procedo.orders.tests.factories import order_create
from procedo.testing import SmtpServer

pytestmark = pytest.mark.django_db


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def _template() -> Template:
    return template_save(
        template_id=None,
        key="spring",
        name="Spring",
        channel="email",
        kind="marketing",
        subject="Весна, {{ customer.first_name }}",
        body_text="Привіт! {% if next_product.name %}Спробуйте {{ next_product.name }}.{% endif %}",
    )


def _segment(*rules: dict[str, Any], name: str = "Ukraine") -> Segment:
    return segments_services.segment_create(name=name, match="all", rules_=list(rules), actor=None)


def _campaign(segment: Segment, template: Template, **extra: Any) -> Campaign:
    values: dict[str, Any] = {
        "name": "Spring",
        "segment_id": segment.pk,
        "template_id": template.pk,
        "scheduled_at": None,
        "holdout_percent": 50,
        "attribution_days": 14,
        "actor": None,
    }
    return campaigns_services.campaign_create(**(values | extra))


def test_a_campaign_goes_to_the_consenting_once_holds_out_and_counts_the_orders_after(
    store: Store, smtp: SmtpServer, no_quiet_hours: None
) -> None:
    template = _template()
    ladder_services.ladder_compute()
    campaign = _campaign(_segment({"field": "country", "op": "eq", "value": "UA"}), template)
    # Olena, Taras and Ivan consented; Petro refused and Maria never answered. The share is
    # set so that exactly one of the three falls below it (the hash decides which).
    consenting = [store.customers[who].pk for who in ("olena", "taras", "ivan")]
    buckets = {pk: campaigns_services.holdout_bucket(pk, campaign.pk) for pk in consenting}
    share = sorted(buckets.values())[1]
    Campaign.objects.filter(pk=campaign.pk).update(holdout_percent=share)
    campaigns_services.campaign_send(campaign_id=campaign.pk, actor=None, idempotency_key="send-1")

    recipients = CampaignRecipient.objects.filter(campaign=campaign)
    assert {r.customer_id: r.held_out for r in recipients} == {
        pk: bucket < share for pk, bucket in buckets.items()
    }
    treated = {r.customer_id for r in recipients if not r.held_out}
    assert len(treated) == 2
    assert (
        set(Message.objects.filter(source=campaign.source).values_list("customer_id", flat=True))
        == treated
    )

    # A retry after a crash (the campaign back in draft) queues nobody again.
    Campaign.objects.filter(pk=campaign.pk).update(state="draft")
    campaigns_services.campaign_send(campaign_id=campaign.pk, actor=None, idempotency_key="send-2")
    assert Message.objects.filter(source=campaign.source).count() == len(treated)

    assert messages_send_due().sent == len(treated)
    received = {m["To"]: m for m in smtp.recorder.received}
    assert len(received) == len(treated)
    if store.customers["ivan"].pk in treated:
        # Ivan never ordered: no next product, so the offer line is left out.
        assert "Спробуйте" not in _text(received["ivan@example.com"])
    # Olena has the whole ladder; Taras bought kettle then filter: his next is the descaler.
    if store.customers["taras"].pk in treated:
        assert "Descaler" in _text(received["taras@example.com"])

    buyer = next(iter(treated))
    order_create(
        (store.skus["Filter"], 2),
        customer=recipients.get(customer_id=buyer).customer,
        status="delivered",
        placed_at=timezone.now() + timedelta(minutes=1),
    )
    counts = selectors.campaign_counts(selectors.campaign_get(campaign.pk))
    assert (counts.audience, counts.held_out) == (3, 3 - len(treated))
    assert (counts.messages, counts.sent, counts.delivered, counts.failed) == (
        len(treated),
        len(treated),
        len(treated),
        0,
    )
    assert counts.orders == 1 and counts.revenue == 600
    assert counts.lift is not None and not counts.lift.enough  # 30 a side are needed
    sends = Event.objects.filter(event_type="campaign.sent", subject_id=campaign.pk).order_by("id")
    assert [e.payload["queued"] for e in sends] == [2, 0]  # the retry queued nobody


def test_a_campaign_nobody_could_get_is_refused_naming_the_segment_and_sends_nothing(
    store: Store,
) -> None:
    template = _template()
    empty = _segment({"field": "country", "op": "eq", "value": "ZZ"}, name="Nobody")
    refused = _segment({"field": "email_consent", "op": "eq", "value": "denied"}, name="Refused")
    for segment, words in ((empty, "no customers"), (refused, "consent")):
        with pytest.raises(DomainError) as caught:
            _campaign(segment, template)
        assert caught.value.field == "segment_id" and words in caught.value.message
    with pytest.raises(DomainError) as caught:
        _campaign(refused, template, holdout_percent=80)
    assert caught.value.field == "holdout_percent"
    assert not Campaign.objects.exists() and not Message.objects.exists()

    # The segment emptied after the campaign was made: sending is refused too.
    campaign = _campaign(_segment({"field": "country", "op": "eq", "value": "PL"}), template)
    store.customers["iryna"].identities.update(marketing_consent="denied")
    with pytest.raises(DomainError) as caught:
        campaigns_services.campaign_send(campaign_id=campaign.pk, actor=None, idempotency_key="k")
    assert caught.value.field == "segment_id"
    assert not Message.objects.exists() and Campaign.objects.get(pk=campaign.pk).state == "draft"
