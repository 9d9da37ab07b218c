"""The KPIs the sales and support areas add to the catalog: lead to order conversion, SLA
attainment and CSAT, each counted as its definition says."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from django.utils.html import escape

from procedo.accounts.roles import Role
from procedo.analytics.kpis import KPIS
from procedo.analytics.periods import Period
from procedo.orders.tests.factories import customer_create, order_create
from procedo.sales.models import Lead
from procedo.sales.services.leads import LeadIn, lead_create
from procedo.support.models import Ticket
from procedo.support.services.intake import Incoming, message_receive
from procedo.support.services.tickets import ticket_open
from procedo.testing import logged_in, person

pytestmark = pytest.mark.django_db

KYIV = ZoneInfo("Europe/Kyiv")


def _this_week() -> Period:
    today = timezone.localdate(timezone=KYIV)
    return Period(first=today - timedelta(days=6), last=today, zone=KYIV)


def _measured(code: str) -> tuple[Decimal | None, int]:
    measure = KPIS[code].measure(_this_week(), None)
    return measure.value, measure.base


def test_a_lead_converts_when_its_customer_buys_after_it_arrived() -> None:
    manager = person(Role.MANAGER)
    now = timezone.now()
    bought_after, bought_before, never = (customer_create(first_name=n) for n in "ABC")
    for number, customer in enumerate((bought_after, bought_before, never)):
        lead = lead_create(
            data=LeadIn(name=f"Lead {number}", email=f"lead{number}@example.com", source="Ads"),
            actor=manager,
        )
        Lead.objects.filter(pk=lead.pk).update(
            customer=customer, created_at=now - timedelta(days=2)
        )
    order_create(customer=bought_after)
    old = order_create(customer=bought_before)
    type(old).objects.filter(pk=old.pk).update(placed_at=now - timedelta(days=3))
    # A lead of last month is not this week's, whatever its customer did.
    earlier = lead_create(
        data=LeadIn(name="Old", email="old@example.com", source="Ads"), actor=manager
    )
    Lead.objects.filter(pk=earlier.pk).update(
        customer=bought_after, created_at=now - timedelta(days=40)
    )

    assert _measured("lead_conversion_rate") == (Decimal("33.33"), 3)


def _ticket(number: int) -> Ticket:
    owner = person(Role.OWNER, username=f"agent{number}")
    entry = message_receive(
        Incoming(channel="email", address=f"client{number}@example.pl", body="Where is it?",
                 idempotency_key=f"in:{number}")
    )  # fmt: skip
    return ticket_open(conversation_id=entry.conversation_id, actor=owner)


def test_sla_attainment_counts_tickets_solved_in_the_period_that_kept_both_promises() -> None:
    now = timezone.now()
    due = {"first_response_due_at": now - timedelta(hours=5), "resolution_due_at": now}
    kept, late_answer, late_solution, breached, open_ = (_ticket(n) for n in range(5))
    Ticket.objects.filter(pk=kept.pk).update(
        **due, first_responded_at=now - timedelta(hours=6), solved_at=now - timedelta(hours=1)
    )
    Ticket.objects.filter(pk=late_answer.pk).update(
        **due, first_responded_at=now - timedelta(hours=4), solved_at=now - timedelta(hours=1)
    )
    Ticket.objects.filter(pk=late_solution.pk).update(
        first_response_due_at=now - timedelta(hours=5),
        resolution_due_at=now - timedelta(hours=2),
        first_responded_at=now - timedelta(hours=6),
        solved_at=now - timedelta(hours=1),
    )
    # Marked breached by the sweep while the clock ran, though its times now look kept.
    Ticket.objects.filter(pk=breached.pk).update(
        **due,
        first_responded_at=now - timedelta(hours=6),
        solved_at=now - timedelta(hours=1),
        resolution_breached_at=now - timedelta(hours=2),
    )
    Ticket.objects.filter(pk=open_.pk).update(**due, solved_at=None)

    assert _measured("sla_attainment") == (Decimal("25.00"), 4)


def test_csat_is_the_share_of_fours_and_fives_among_the_periods_ratings() -> None:
    now = timezone.now()
    for number, (rating, when) in enumerate(
        [(5, now), (4, now), (2, now), (1, now - timedelta(days=30))]
    ):
        ticket = _ticket(number)
        Ticket.objects.filter(pk=ticket.pk).update(csat_rating=rating, csat_answered_at=when)

    assert _measured("customer_satisfaction") == (Decimal("66.67"), 3)
    assert (
        KPIS["customer_satisfaction"]
        .measure(Period(first=date(2020, 1, 1), last=date(2020, 1, 31), zone=KYIV), None)
        .value
        is None
    )  # no ratings then: no number, not a zero


def test_each_has_its_page_and_its_api_series() -> None:
    client = logged_in(person(Role.OWNER))
    for code in ("lead_conversion_rate", "sla_attainment", "customer_satisfaction"):
        page = client.get(f"/analytics/kpi/{code}/")
        assert page.status_code == 200, code
        assert escape(str(KPIS[code].definition)) in page.content.decode(), code
        assert client.get(f"/api/analytics/kpis/{code}/series").status_code == 200, code
