"""The registry of kinds: every trigger and step kind has all its parts, and they agree.

Each kind's form, filled from a stored item of that kind and posted back untouched,
gives the same item again; each describes itself in words; the API's catalog and the
editor's menus list every kind. A kind added to the registry without an example here
fails the first test, so a new kind cannot skip the round trip.
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape

from procedo.accounts.roles import Role
from procedo.automation.tests.helpers import person, task_step
from procedo.orders.models import OrderStatus
from procedo.sops.forms.common import TABLES, ItemForm
from procedo.sops.forms.steps import StepChoices, StepForm
from procedo.sops.forms.triggers import TriggerForm
from procedo.sops.kinds import STEP_KINDS, TRIGGER_KINDS, StepKind, TriggerKind
from procedo.sops.models import Sop
from procedo.sops.services import sops as sop_services
from procedo.sops.validation import definition_clean

pytestmark = pytest.mark.django_db

TOTAL_OVER_100 = {"match": "all", "rules": [{"field": "total", "op": "gte", "value": "100"}]}
SHIPPED = {"match": "any", "rules": [{"field": "event.to", "op": "eq", "value": "shipped"}]}

TRIGGER_EXAMPLES: dict[str, dict[str, Any]] = {
    "event": {"event_type": "order.status_changed", "conditions": SHIPPED},
    "date": {"field": "delivered_at", "offset_days": 3, "catch_up_days": 5},
    "schedule": {
        "every": "week",
        "weekdays": [0, 2],
        "time": "10:30",
        "catch_up_days": 2,
        "conditions": TOTAL_OVER_100,
    },
    "manual": {"conditions": TOTAL_OVER_100},
}
PERSON = {"assignee": {"kind": "role", "role": "operator"}, "due_in_minutes": 30}
STEP_EXAMPLES: dict[str, dict[str, Any]] = {
    "task": {
        **PERSON,
        "instructions": "Ask about the size",
        "priority": "high",
        "escalate_after_minutes": 60,
    },
    "checklist": {
        **PERSON,
        "checklist_kind": "decision",
        "items": [
            {
                "key": "outcome",
                "text": "Did they confirm?",
                "options": [
                    {"value": "yes", "label": "Yes", "goto": "end"},
                    {"value": "no", "label": "No", "goto": "call"},
                ],
            }
        ],
    },
    "email": {"subject": "Order {{ order.number }}", "body": "Thank you, {{ customer.name }}."},
    "sms": {"body": "Your order {{ order.number }} is on its way.", "if_no_recipient": "fail"},
    "set_status": {"status": "confirmed", "note": "confirmed by phone"},
    "add_tag": {"tag": "vip"},
    "remove_tag": {"tag": "vip"},
    "webhook": {"url": "https://example.com/hook", "timeout_seconds": 5},
    "wait": {
        "event_type": "order.status_changed",
        "conditions": SHIPPED,
        "timeout_minutes": 600,
        "on_timeout": "call",
    },
    "branch": {"conditions": TOTAL_OVER_100, "then_step": "end", "else_step": "call"},
    "start_sop": {"sop_id": 0},  # the other SOP's id, made by the test
}


def test_every_kind_has_all_its_parts() -> None:
    assert set(TRIGGER_EXAMPLES) == set(TRIGGER_KINDS)
    assert set(STEP_EXAMPLES) == set(STEP_KINDS)
    kinds: list[TriggerKind | StepKind] = [*TRIGGER_KINDS.values(), *STEP_KINDS.values()]
    for kind in kinds:
        # The schema is the one `kind` chooses: its Literal names this key.
        assert kind.key in typing.get_args(kind.schema.model_fields["kind"].annotation), kind.key
        base = TriggerForm if isinstance(kind, TriggerKind) else StepForm
        assert issubclass(kind.form, base), kind.key
        for name in kind.form.layout:
            assert name in TABLES or name in kind.form.base_fields, name
        assert callable(kind.describe) and callable(kind.check)
        with translation.override("en"):
            english = str(kind.label)
        with translation.override("uk"):
            assert english and str(kind.label) != english, english  # in the catalog
    # Exactly the tasks and checklists are a person's to do.
    assert {key for key, kind in STEP_KINDS.items() if kind.by_person} == {"task", "checklist"}


def _as_posted(form: ItemForm) -> dict[str, Any]:
    """What a browser posts back from a rendered form, untouched."""
    data: dict[str, Any] = {}
    for name in form.fields:
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = value
    return data


def _round_trip(
    form_class: type[ItemForm], stored: dict[str, Any], **form_args: Any
) -> dict[str, Any]:
    shown = form_class(initial=form_class.initial_from(stored), **form_args)
    posted = form_class(_as_posted(shown), **form_args)
    assert posted.is_valid(), posted.errors
    return posted.to_item(key=stored.get("key", ""))


def test_each_kinds_form_gives_back_the_item_it_was_filled_from() -> None:
    owner = person(Role.OWNER)
    other = sop_services.sop_create(
        name="Thank the customer",
        subject_type="customer",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        kpi_target=Decimal("15"),
        actor=owner,
    )
    examples = {**STEP_EXAMPLES, "start_sop": {"sop_id": other.pk}}
    triggers = [
        {"kind": kind, "key": f"t_{kind}", **fields} for kind, fields in TRIGGER_EXAMPLES.items()
    ]
    steps = [task_step("call")] + [
        {"kind": kind, "key": f"s_{kind}", "title": f"The {kind} step", **fields}
        for kind, fields in examples.items()
    ]
    stored = definition_clean(
        {"triggers": triggers, "steps": steps}, subject_type="order", sop_id=None
    )

    for trigger in stored["triggers"]:
        trigger_form = TRIGGER_KINDS[trigger["kind"]].form
        again = _round_trip(trigger_form, trigger, kind=trigger["kind"], subject_type="order")
        assert again == trigger, trigger["kind"]
    choices = StepChoices(
        subject_type="order",
        step_keys=[(step["key"], step["title"]) for step in steps],
        roles=[(str(value), str(label)) for value, label in Role.choices],
        statuses=list(OrderStatus.objects.values_list("code", "label")),
        sops=list(Sop.objects.values_list("pk", "name")),
    )
    rebuilt = []
    for step in stored["steps"]:
        step_form = STEP_KINDS[step["kind"]].form
        rebuilt.append(_round_trip(step_form, step, kind=step["kind"], choices=choices))
    # Forms leave defaults to the schema: stored again, each step is what it was.
    stored_again = definition_clean({**stored, "steps": rebuilt}, subject_type="order", sop_id=None)
    assert stored_again["steps"] == stored["steps"]


def test_each_kind_describes_itself_and_the_catalog_documents_it() -> None:
    from procedo.sops.describe import step_text, trigger_text

    for kind, fields in TRIGGER_EXAMPLES.items():
        text = trigger_text({"kind": kind, "key": "t", **fields}, subject_type="order")
        assert text and text != kind
    for kind, fields in STEP_EXAMPLES.items():
        text = step_text({"kind": kind, "key": "s", "title": "T", **fields}, subject_type="order")
        assert text and text != kind

    client = Client()
    client.force_login(person(Role.VIEWER))
    catalog = client.get("/api/sops/catalog").json()
    assert catalog["trigger_kinds"] == list(TRIGGER_KINDS)
    assert catalog["step_kinds"] == list(STEP_KINDS)
    documented = catalog["kinds"]["steps"]
    assert set(documented) == set(STEP_KINDS)
    assert documented["checklist"]["by_person"] is True
    assert documented["webhook"]["schema"]["properties"]["timeout_seconds"]["maximum"] == 30
    assert "Assignee" in documented["task"]["schema"]["$defs"]
    assert set(catalog["kinds"]["triggers"]) == set(TRIGGER_KINDS)
    assert documented["sms"]["label"] == "Send an SMS"


def test_the_editor_offers_every_kind_and_draws_its_form() -> None:
    owner = person(Role.OWNER)
    sop = sop_services.sop_create(
        name="Confirm orders",
        subject_type="order",
        owner_id=owner.pk,
        kpi="order_confirmation_time",
        kpi_target=Decimal("15"),
        actor=owner,
    )
    draft = sop.revisions.get()
    client = Client()
    client.force_login(owner)
    page = client.get(reverse("sops:revision", args=[draft.pk])).content.decode()
    for kind in STEP_KINDS.values():
        assert f'<option value="{kind.key}">{escape(str(kind.label))}</option>' in page
    for key, kind in STEP_KINDS.items():
        url = reverse("sops:item-new", args=[draft.pk, "steps"]) + f"?kind={key}"
        response = client.get(url)
        assert response.status_code == 200
        assert response.context["form"].__class__ is kind.form
        assert escape(str(kind.label)) in response.content.decode()
    for key, trigger_kind in TRIGGER_KINDS.items():
        url = reverse("sops:item-new", args=[draft.pk, "triggers"]) + f"?kind={key}"
        response = client.get(url)
        assert response.context["form"].__class__ is trigger_kind.form
        assert f'value="{key}" selected' in response.content.decode()
    # An SMS has no subject line; an email has.
    sms = client.get(reverse("sops:item-new", args=[draft.pk, "steps"]) + "?kind=sms")
    assert "subject" not in sms.context["visible"] and 'name="subject"' not in sms.content.decode()
    email = client.get(reverse("sops:item-new", args=[draft.pk, "steps"]) + "?kind=email")
    assert "subject" in email.context["visible"]
