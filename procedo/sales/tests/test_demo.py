"""The demo store's sales desk: every stage of the board has a deal, the lost one its reason,
the leads' response time and the cost per lead and CAC have numbers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.business.services import business_update
from procedo.sales import selectors
from procedo.sales.demo import LEADS, demo_sales_load
from procedo.sales.models import Deal, Lead, Meeting, StageKind
from procedo.sales.services.pipelines import pipeline_default
from procedo.testing import person

pytestmark = pytest.mark.django_db


def test_the_demo_sales_desk_fills_the_board_and_the_numbers() -> None:
    business_update(name="Demo", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    owner, seller = person(Role.OWNER), person(Role.MANAGER)
    demo_sales_load(owner=owner, seller=seller)

    assert Lead.objects.count() == len(LEADS)
    board = selectors.board(pipeline=pipeline_default())
    assert [column.count for column in board.columns] == [0, 1, 1, 1, 1]
    lost = Deal.objects.get(stage__kind=StageKind.LOST)
    assert lost.lost_reason is not None
    assert Meeting.objects.count() == 1
    meeting = Meeting.objects.get()
    assert meeting.starts_at > timezone.now()
    first = timezone.localdate().replace(day=1)
    last = (first + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    figures = selectors.acquisition(first=first, last=last)  # the whole month's spend
    assert figures.leads == len(LEADS) and figures.customers == 1
    assert figures.spend == Decimal("20200.00")
    assert figures.cost_per_lead == (Decimal("20200.00") / len(LEADS)).quantize(Decimal("0.01"))
    average, contacted = selectors.lead_response_minutes(
        start=timezone.now() - timedelta(days=1), end=timezone.now()
    )
    assert contacted == len(LEADS) - 1 and average is not None
