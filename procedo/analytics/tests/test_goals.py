"""Goals: an aim with a KPI, a target in the KPI's unit and a day; few at a time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from procedo.accounts.models import User
from procedo.analytics import services
from procedo.analytics.models import Goal
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.events.models import Event

pytestmark = pytest.mark.django_db


def _later(days: int = 90) -> object:
    # The business's today (Kyiv), not the server's: they differ for hours every night.
    return timezone.localdate(timezone=business_get().zone) + timedelta(days=days)


def _goal(owner: User, name: str = "More customers buy again", **extra: Any) -> Goal:
    fields: dict[str, object] = {
        "kpi": "repeat_purchase_rate",
        "target": "25",
        "deadline": _later(),
    }
    fields.update(extra)
    return services.goal_create(name=name, actor=owner, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"target": "150"}, "target"),  # a rate is a percentage
        ({"kpi": "happiness"}, "kpi"),
        ({"deadline": timezone.localdate()}, "deadline"),
        ({"name": "  "}, "name"),
        ({"kpi_window_days": 0}, "kpi_window_days"),
        ({"target": "NaN"}, "target"),
        ({"focus_reason": "x" * 301}, "focus_reason"),  # refused, never cut short
    ],
)
def test_a_goal_that_makes_no_sense_is_refused_naming_the_field(
    owner: User, changes: dict[str, Any], field: str
) -> None:
    with pytest.raises(DomainError) as refused:
        _goal(owner, **changes)
    assert refused.value.field == field
    assert (
        not Goal.objects.exists() and not Event.objects.filter(event_type="goal.created").exists()
    )


def test_a_fourth_active_goal_asks_why_and_the_log_records_each(owner: User) -> None:
    for n in range(3):
        _goal(owner, name=f"Goal {n}")
    with pytest.raises(DomainError) as refused:
        _goal(owner, name="Goal 3")
    assert refused.value.field == "focus_reason"
    fourth = _goal(owner, name="Goal 3", focus_reason="The sale season starts in a week")
    assert fourth.focus_reason.startswith("The sale season")
    assert Event.objects.filter(event_type="goal.created").count() == 4
    services.goal_update(goal_id=fourth.pk, state="dropped", actor=owner)
    # Reopening it makes it the fourth again: it asks again.
    with pytest.raises(DomainError) as reopened:
        services.goal_update(goal_id=fourth.pk, state="active", actor=owner)
    assert reopened.value.field == "focus_reason"


def test_the_same_form_submitted_twice_sets_one_goal(owner: User) -> None:
    first = _goal(owner, idempotency_key="ui:1")
    again = _goal(owner, idempotency_key="ui:1")
    assert first.pk == again.pk and Goal.objects.count() == 1


def test_an_owner_sets_a_goal_on_the_page_and_reads_it_month_by_month(
    owner_client: Client, make_user: Callable[..., User]
) -> None:
    page = owner_client.get("/analytics/goals/")
    token = page.context["form"]["form_token"].value()
    bad = owner_client.post(
        "/analytics/goals/new/",
        {"name": "Faster confirmation", "kpi": "order_confirmation_time", "target": "-5",
         "deadline": _later(), "form_token": token},
    )  # fmt: skip
    assert bad.status_code == 422 and "target" in bad.context["form"].errors
    done = owner_client.post(
        "/analytics/goals/new/",
        {"name": "Faster confirmation", "kpi": "order_confirmation_time", "target": "15",
         "deadline": _later(), "form_token": token},
    )  # fmt: skip
    goal = Goal.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/analytics/goals/{goal.pk}/"
    text = owner_client.get(done["Location"]).content.decode()
    assert "Faster confirmation" in text and "<svg" in text and "target 15 min" in text
    marketer = Client()
    marketer.force_login(make_user(role="marketer"))
    assert marketer.get("/analytics/goals/").status_code == 200
    assert marketer.post("/analytics/goals/new/", {"name": "x"}).status_code == 403


def test_the_api_sets_lists_and_closes_goals(owner_client: Client) -> None:
    body = {"name": "Win back", "kpi": "reactivation_rate", "target": "10.5",
            "deadline": str(_later()), "kpi_window_days": 365}  # fmt: skip
    created = owner_client.post("/api/analytics/goals", body, content_type="application/json")
    assert created.status_code == 201
    goal = created.json()
    assert goal["target"] == "10.50" and goal["days_left"] == 90 and len(goal["months"]) == 6
    assert [g["id"] for g in owner_client.get("/api/analytics/goals").json()] == [goal["id"]]
    closed = owner_client.patch(
        f"/api/analytics/goals/{goal['id']}", {"state": "achieved"}, content_type="application/json"
    )
    assert closed.json()["state"] == "achieved"
    assert owner_client.get("/api/analytics/goals").json() == []
    wrong = owner_client.post(
        "/api/analytics/goals", {**body, "target": "101"}, content_type="application/json"
    )
    assert wrong.status_code == 422 and wrong.json()["field"] == "target"
    assert Decimal(
        owner_client.get(f"/api/analytics/goals/{goal['id']}").json()["target"]
    ) == Decimal("10.5")
