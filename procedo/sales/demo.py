"""A little sales desk for the demo store: leads from the site, Instagram and the phone, four
of them deals across the board (one won, one lost with its reason, a meeting booked), and
two months of channel spend, so cost per lead and CAC have numbers (through the services)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone, translation

from procedo.business.selectors import business_get
from procedo.sales.models import LeadOrigin, LostReason, StageKind
from procedo.sales.services.deals import deal_move
from procedo.sales.services.leads import (
    LeadIn,
    lead_contact_log,
    lead_create,
    lead_disqualify,
    lead_qualify,
)
from procedo.sales.services.meetings import meeting_book
from procedo.sales.services.pipelines import pipeline_default
from procedo.sales.services.spend import spend_set

# (name, email, phone, source, utm, message, deal: (title, value, stage position) or None)
LEADS: list[tuple[str, str, str, str, dict[str, str], str, tuple[str, str, int] | None]] = [
    (
        "Кав'ярня «Зерно»",
        "zerno.cafe@example.com",
        "+380671230001",
        "website",
        {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "coffee-b2b"},
        "Потрібні 2 кавомашини і помел щотижня для кав'ярні.",
        ("Кав'ярня «Зерно»: 2 кавомашини і кава щотижня", "86400.00", 1),
    ),
    (
        "Оксана Мороз",
        "oksana.moroz@example.com",
        "+380501230002",
        "instagram",
        {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "spring"},
        "Подарункові набори для 40 співробітників до свята.",
        ("40 подарункових наборів", "32000.00", 2),
    ),
    (
        "Готель «Карпати»",
        "hotel.karpaty@example.com",
        "+380931230003",
        "website",
        {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "coffee-b2b"},
        "Чай для номерів, 30 кг на квартал.",
        ("Готель «Карпати»: чай на квартал", "21000.00", 3),
    ),
    (
        "Студія йоги «Прана»",
        "prana.yoga@example.com",
        "+380661230004",
        "instagram",
        {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "spring"},
        "Чай для студії, але бюджет невеликий.",
        ("Студія «Прана»: чай щомісяця", "6400.00", 4),
    ),
    (
        "Дмитро Савчук",
        "",
        "+380971230005",
        "дзвінок",
        {},
        "Дзвонив, питав про оптові ціни на каву.",
        None,
    ),
    (
        "Марта Гнатюк",
        "marta.hnatiuk@example.com",
        "",
        "website",
        {"utm_source": "facebook", "utm_medium": "social", "utm_campaign": "spring"},
        "Хочу дізнатися, чи доставляєте в Польщу.",
        None,
    ),
]
SPEND = (("website", "9500.00", "12400.00"), ("instagram", "6000.00", "7800.00"))


def demo_sales_load(*, owner: Any, seller: Any) -> None:
    # The stages and lost reasons are the store's own words, made in the language of whoever
    # installs them: the demo store speaks Ukrainian.
    with translation.override("uk"):
        pipeline = pipeline_default()
    stages = list(pipeline.stages.order_by("position"))
    lost_reason = LostReason.objects.order_by("position").first()
    zone = ZoneInfo(business_get().time_zone)
    today = timezone.now().astimezone(zone).date()
    for n, (name, email, phone, source, utm, message, deal) in enumerate(LEADS, start=1):
        lead = lead_create(
            data=LeadIn(
                name=name, email=email, phone=phone, message=message, source=source,
                utm=utm, consent=bool(email),
            ),
            origin=LeadOrigin.MANUAL if source == "дзвінок" else LeadOrigin.FORM,
            owner_id=seller.pk,
            actor=owner,
            idempotency_key=f"demo:sales:lead:{n}",
        )  # fmt: skip
        if n == 6:
            continue  # still waiting for its first call: the response time runs
        lead_contact_log(
            lead_id=lead.pk, kind="call", note="Перший дзвінок", contacted_at=None, actor=seller
        )
        if deal is None:
            lead_disqualify(lead_id=lead.pk, actor=seller)
            continue
        title, value, position = deal
        made = lead_qualify(
            lead_id=lead.pk,
            title=title,
            value=value,
            expected_close_on=today + timedelta(days=7 * n),
            owner_id=seller.pk,
            actor=seller,
            idempotency_key=f"demo:sales:deal:{n}",
        )
        stage = stages[position]
        deal_move(
            deal_id=made.pk,
            stage_id=stage.pk,
            lost_reason_id=lost_reason.pk if stage.kind == StageKind.LOST and lost_reason else None,
            actor=seller,
            idempotency_key=f"demo:sales:move:{n}",
        )
        if position == 1:  # "needs meeting": booked for the day after tomorrow at 11
            meeting_book(
                deal_id=made.pk,
                starts_at=datetime.combine(today + timedelta(days=2), time(11), tzinfo=zone),
                title="Дегустація в кав'ярні",
                actor=seller,
                idempotency_key=f"demo:sales:meeting:{n}",
            )
    this_month = today.replace(day=1)
    last_month = (this_month - timedelta(days=1)).replace(day=1)
    for source, before, now_spent in SPEND:
        spend_set(source=source, month=last_month, amount=before, actor=owner)
        spend_set(source=source, month=this_month, amount=now_spent, actor=owner)
