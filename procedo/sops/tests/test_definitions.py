"""Bad definitions are refused when saved, with the field named; good ones are normalised."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import event_trigger, person, sop_live, task_step
from procedo.core.errors import DomainError
from procedo.sops.models import Sop
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def sop() -> Sop:
    owner = person(Role.OWNER)
    return sop_services.sop_create(
        name="Thank you after delivery",
        subject_type="order",
        owner_id=owner.pk,
        kpi="repeat_purchase_rate",
        kpi_window_days=60,
        actor=owner,
    )


def _save(sop: Sop, definition: dict[str, Any]) -> dict[str, Any]:
    draft = sop.revisions.get(number=1)
    return revision_services.revision_update(
        revision_id=draft.pk, definition=definition, actor=None
    ).definition


def _refused(sop: Sop, definition: dict[str, Any]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        _save(sop, definition)
    return caught.value


def test_the_vip_delivered_example_is_accepted_and_normalised(sop: Sop) -> None:
    saved = _save(
        sop,
        {
            "triggers": [
                event_trigger(
                    "order.status_changed",
                    rules=[
                        {"field": "event.to", "op": "eq", "value": "delivered"},
                        {"field": "total", "op": "gte", "value": 100},
                        {"field": "customer.tags", "op": "has", "value": "VIP"},
                        {"field": "channel", "op": "in", "value": "web, instagram"},
                    ],
                )
            ],
            "steps": [task_step()],
        },
    )
    rules = saved["triggers"][0]["conditions"]["rules"]
    assert [rule["value"] for rule in rules] == ["delivered", "100", "VIP", ["web", "instagram"]]
    assert saved["steps"][0]["priority"] == "normal"


@pytest.mark.parametrize(
    ("definition", "field", "words"),
    [
        (
            {"triggers": [event_trigger(rules=[{"field": "colour", "op": "eq", "value": 1}])]},
            "triggers.0.conditions.rules.0.field",
            "unknown field “colour”",
        ),
        (
            {"triggers": [event_trigger(rules=[{"field": "total", "op": "has", "value": 1}])]},
            "triggers.0.conditions.rules.0.op",
            "does not apply",
        ),
        (
            {"triggers": [event_trigger(rules=[{"field": "total", "op": "gt", "value": "lots"}])]},
            "triggers.0.conditions.rules.0.value",
            "not a number",
        ),
        (
            {"triggers": [event_trigger("order.teleported")]},
            "triggers.0.event_type",
            "unknown event type",
        ),
        (
            {"triggers": [event_trigger("customer.created")]},
            "triggers.0.event_type",
            "about a customer",
        ),
        (
            {
                "steps": [
                    {
                        "kind": "branch",
                        "key": "vip",
                        "title": "VIP?",
                        "conditions": {"rules": []},
                        "then_step": "call",
                        "else_step": "end",
                    }
                ]
            },
            "steps.0.then_step",
            "no step “call”",
        ),
        (
            {
                "steps": [
                    {
                        "kind": "email",
                        "key": "thanks",
                        "title": "Thank",
                        "subject": "Hi",
                        "body": "Dear {% if customer.name %}{{ customer.name }}",
                    }
                ]
            },
            "steps.0.body",
            "line 1",
        ),
        (
            {
                "steps": [
                    {
                        "kind": "email",
                        "key": "thanks",
                        "title": "Thank",
                        "subject": "Hi",
                        "body": "Dear {{ customer.first_name }},\nyour code: {{ cupon }}",
                    }
                ]
            },
            "steps.0.body",
            "line 2: 'cupon' is undefined",
        ),
        (
            {"steps": [{"kind": "sms", "key": "sms", "title": "SMS", "template_key": "nope"}]},
            "steps.0.template_key",
            "no template “nope”",
        ),
        ({"steps": [task_step(), task_step()]}, "steps.1.key", "is taken"),
        (
            {
                "steps": [
                    {"kind": "task", "key": "x", "assignee": {"kind": "role", "role": "operator"}}
                ]
            },
            "steps.0.title",
            "required",
        ),
        (
            {"steps": [task_step(assignee={"kind": "role", "role": "wizard"})]},
            "steps.0.assignee.role",
            "no role",
        ),
        ({"steps": [task_step(assignee={"kind": "team"})]}, "steps.0.assignee", "needs team_id"),
        (
            {
                "steps": [
                    {"kind": "set_status", "key": "s", "title": "Ship", "status": "teleported"}
                ]
            },
            "steps.0.status",
            "no order status",
        ),
        (
            {"steps": [{"kind": "wait", "key": "w", "title": "Wait", "event_type": "order.paid"}]},
            "steps.0",
            "needs a timeout",
        ),
        (
            {"triggers": [{"kind": "date", "key": "d", "field": "total", "offset_days": 30}]},
            "triggers.0.field",
            "is not a date",
        ),
        ({"steps": [{"kind": "fly", "key": "f", "title": "Fly"}]}, "steps.0", "does not match"),
    ],
)
def test_bad_definitions_are_refused_naming_the_field(
    sop: Sop, definition: dict[str, Any], field: str, words: str
) -> None:
    error = _refused(sop, definition)
    assert error.field == field
    assert words in error.message
    assert sop.revisions.get().definition == {"triggers": [], "cancel_on": [], "steps": []}


def test_a_cycle_of_start_another_sop_is_refused() -> None:
    owner = person(Role.OWNER)
    first, _rev = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step()]}, owner=owner
    )
    second, _rev = sop_live(
        definition={
            "triggers": [event_trigger()],
            "steps": [{"kind": "start_sop", "key": "next", "title": "Then", "sop_id": first.pk}],
        },
        owner=owner,
    )
    # first → second would close the loop second → first.
    draft = revision_services.revision_draft_create(sop_id=first.pk, actor=owner)
    with pytest.raises(DomainError) as caught:
        revision_services.revision_update(
            revision_id=draft.pk,
            definition={
                "triggers": [event_trigger()],
                "steps": [{"kind": "start_sop", "key": "go", "title": "Go", "sop_id": second.pk}],
            },
            actor=owner,
        )
    assert caught.value.field == "steps.0.sop_id"
    assert "cycle" in caught.value.message
    with pytest.raises(DomainError) as itself:
        revision_services.revision_update(
            revision_id=draft.pk,
            definition={
                "steps": [{"kind": "start_sop", "key": "go", "title": "Go", "sop_id": first.pk}]
            },
            actor=owner,
        )
    assert "itself" in itself.value.message
