"""Authoring an SOP in the browser without JSON, and the same through the REST API."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.automation.models import Run, RunState
from procedo.automation.services import steps as executor
from procedo.automation.tests.helpers import (
    event_trigger,
    order,
    person,
    sop_live,
    task_step,
)
from procedo.sops.models import Revision, RevisionState, Sop
from procedo.testing import logged_in
from procedo.work.models import Task, TaskState

pytestmark = pytest.mark.django_db


def _sop_via_form(client: Client, owner: User) -> Revision:
    response = client.post(
        reverse("sops:create"),
        {
            "form_token": "5c2a8f2e-6d0b-4e41-9a55-0c6f1e7c1b11",
            "name": "Confirm new orders within 15 minutes",
            "subject_type": "order",
            "owner_id": owner.pk,
            "goal": "Every new order confirmed by phone within 15 minutes",
            "why": "Unconfirmed orders are cancelled twice as often",
            "kpi": "order_confirmation_time",
            "kpi_target": "15",
            "holdout_percent": "0",
        },
    )
    assert response.status_code == 302
    return Revision.objects.get(sop__name="Confirm new orders within 15 minutes")


def _rules(*rows: tuple[str, str, str]) -> dict[str, str]:
    data = {"match": "all"}
    for i, (field, op, value) in enumerate(rows):
        data.update({f"rule_{i}_field": field, f"rule_{i}_op": op, f"rule_{i}_value": value})
    return data


def test_a_store_owner_writes_reviews_and_publishes_an_sop_with_forms() -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    client = logged_in(owner)
    draft = _sop_via_form(client, owner)
    page = client.get(reverse("sops:revision", args=[draft.pk]))
    assert page.status_code == 200 and "No trigger" in page.content.decode()

    trigger_url = reverse("sops:item-new", args=[draft.pk, "triggers"])
    assert client.get(trigger_url + "?kind=event").status_code == 200
    saved = client.post(
        trigger_url,
        {"kind": "event", "event_type": "order.created", **_rules(("total", "gte", "100"))},
    )
    assert saved.status_code == 302
    # An operator that does not fit the field is refused, naming the row.
    bad = client.post(
        trigger_url,
        {"kind": "event", "event_type": "order.created", **_rules(("total", "has", "VIP"))},
    )
    assert bad.status_code == 422
    assert bad.context["form"].errors["rule_0_op"]

    step_url = reverse("sops:item-new", args=[draft.pk, "steps"])
    form_page = client.get(step_url + "?kind=checklist")
    assert "Who" in form_page.content.decode() and "Kind of checklist" in form_page.content.decode()
    assert (
        client.post(
            step_url,
            {
                "kind": "checklist",
                "title": "Call the customer",
                "instructions": "Confirm the address and the delivery time",
                "assignee_kind": "role",
                "role": "operator",
                "due_in_minutes": "15",
                "priority": "high",
                "checklist_kind": "simple",
                "item_0_text": "Address",
                "item_0_required": "on",
                "item_1_text": "",
                "item_2_text": "Delivery time",
            },
        ).status_code
        == 302
    )
    broken = client.post(
        step_url,
        {"kind": "email", "title": "Thank", "subject": "Hi", "body": "{% if %}"},
    )
    assert broken.status_code == 422 and broken.context["form"].errors["body"]
    assert (
        client.post(
            step_url,
            {
                "kind": "email",
                "title": "Confirmation email",
                "subject": "Order {{ order.number }}",
                "body": "Thank you, {{ customer.first_name }}",
            },
        ).status_code
        == 302
    )
    # Move the email before the call.
    client.post(reverse("sops:item-move", args=[draft.pk, "steps", 1]), {"direction": "up"})
    draft.refresh_from_db()
    assert [s["kind"] for s in draft.definition["steps"]] == ["email", "checklist"]
    items = draft.definition["steps"][1]["items"]
    assert [(i["key"], i["text"], i["required"]) for i in items] == [
        ("item_1", "Address", True),
        ("item_2", "Delivery time", False),
    ]
    assert draft.definition["triggers"][0]["conditions"]["rules"][0]["value"] == "100"

    move = reverse("sops:transition", args=[draft.pk])
    assert client.post(move, {"to_state": "review", "comment": "ready"}).status_code == 302
    own = client.post(move, {"to_state": "approved"})
    assert own.status_code == 422 and "author" in own.content.decode()
    reviewing = logged_in(reviewer)
    assert reviewing.post(move, {"to_state": "approved", "comment": "ok"}).status_code == 302
    assert reviewing.post(move, {"to_state": "published"}).status_code == 302
    draft.refresh_from_db()
    assert draft.state == RevisionState.PUBLISHED

    listing = client.get(reverse("sops:list")).content.decode()
    assert "published r1" in listing and "Order confirmation time" in listing
    card = client.get(reverse("sops:detail", args=[draft.sop_id])).content.decode()
    assert "Unconfirmed orders are cancelled twice as often" in card
    assert "Call the customer" in card and "ready" in card


def test_editing_a_published_revision_makes_a_draft_and_shows_the_diff() -> None:
    owner = person(Role.OWNER)
    sop, published = sop_live(
        definition={"triggers": [event_trigger()], "steps": [task_step(title="Call")]},
        owner=owner,
    )
    client = logged_in(owner)
    response = client.post(
        reverse("sops:item", args=[published.pk, "steps", 0]),
        {
            "kind": "task",
            "title": "Call within 5 minutes",
            "assignee_kind": "sop_owner",
            "due_in_minutes": "5",
        },
    )
    draft = Revision.objects.get(sop=sop, number=2)
    assert response.url == reverse("sops:revision", args=[draft.pk])  # type: ignore[attr-defined]
    page = client.get(reverse("sops:revision", args=[draft.pk])).content.decode()
    assert "- 1. Call [confirm]" in page and "+ 1. Call within 5 minutes [confirm]" in page
    published.refresh_from_db()
    assert published.definition["steps"][0]["title"] == "Call"


def test_preview_runs_and_tasks_pages() -> None:
    owner = person(Role.OWNER)
    operator = person(Role.OPERATOR)
    sop, revision = sop_live(
        definition={
            "triggers": [
                event_trigger(rules=[{"field": "total", "op": "gte", "value": 100}]),
                {"kind": "manual", "key": "hand"},
            ],
            "steps": [task_step(title="Call the customer")],
        },
        owner=owner,
    )
    big, _small = order(total="150.00"), order(total="20.00")
    client = logged_in(owner)
    preview = client.get(reverse("sops:preview", args=[revision.pk, "t1"]), HTTP_HX_REQUEST="true")
    assert preview.status_code == 200 and preview.context["preview"].count == 1

    from procedo.automation.services.engine import run_start_manual

    run_start_manual(
        sop_id=sop.pk, subject_type="order", subject_id=big.pk, actor=owner, idempotency_key="k"
    )
    executor.runs_advance()
    run = Run.objects.get()
    page = client.get(reverse("automation:run", args=[run.pk])).content.decode()
    assert "Call the customer" in page and "Waiting" in page

    tasks = logged_in(operator).get(reverse("work:list"))
    assert [task.title for task, _ok in tasks.context["rows"]] == ["Call the customer"]
    task = Task.objects.get()
    done = logged_in(operator).post(reverse("work:complete", args=[task.pk]), {"note": "ok"})
    assert done.status_code == 302
    task.refresh_from_db()
    run.refresh_from_db()
    assert task.state == TaskState.DONE and run.state == RunState.COMPLETED

    cancel = client.post(reverse("automation:cancel", args=[run.pk]), {"reason": "x"})
    assert cancel.status_code == 302  # refused with a message: it is completed


def test_a_viewer_sees_sops_but_cannot_write_them() -> None:
    viewer = person(Role.VIEWER)
    client = logged_in(viewer)
    assert client.get(reverse("sops:list")).status_code == 200
    assert client.post(reverse("sops:create"), {}).status_code == 403
    assert client.get(reverse("work:list")).status_code == 200


# ---------------------------------------------------------------- the REST API


def test_the_api_writes_a_definition_and_names_the_bad_field() -> None:
    owner = person(Role.OWNER)
    reviewer = person(Role.MANAGER)
    client = logged_in(owner)
    created = client.post(
        "/api/sops",
        {
            "name": "Thank-you 3 days after delivery",
            "subject_type": "order",
            "owner_id": owner.pk,
            "kpi": "repeat_purchase_rate",
            "kpi_window_days": 90,
        },
        content_type="application/json",
        headers={"Idempotency-Key": "abc"},
    )
    assert created.status_code == 201, created.content
    sop: dict[str, Any] = created.json()
    revision_id = sop["current_revision_id"]
    bad = client.put(
        f"/api/sops/revisions/{revision_id}/definition",
        {
            "definition": {
                "triggers": [
                    {
                        "kind": "date",
                        "key": "d",
                        "field": "delivered_at",
                        "offset_days": 3,
                        "conditions": {"rules": [{"field": "mood", "op": "eq", "value": "happy"}]},
                    }
                ]
            }
        },
        content_type="application/json",
    )
    assert bad.status_code == 422
    assert bad.json()["field"] == "triggers.0.conditions.rules.0.field"
    good = client.put(
        f"/api/sops/revisions/{revision_id}/definition",
        {
            "definition": {
                "triggers": [
                    {"kind": "date", "key": "d", "field": "delivered_at", "offset_days": 3}
                ],
                "steps": [
                    {
                        "kind": "email",
                        "key": "thanks",
                        "title": "Thank",
                        "subject": "Thanks",
                        "body": "Thank you!",
                    }
                ],
            }
        },
        content_type="application/json",
    )
    assert good.status_code == 200 and good.json()["description"][0].startswith("Trigger d")
    moved = client.post(
        f"/api/sops/revisions/{revision_id}/transition",
        {"to_state": "review"},
        content_type="application/json",
    )
    assert moved.json()["state"] == "review"
    own = client.post(
        f"/api/sops/revisions/{revision_id}/transition",
        {"to_state": "approved"},
        content_type="application/json",
    )
    assert own.status_code == 403
    other = logged_in(reviewer)
    other.post(
        f"/api/sops/revisions/{revision_id}/transition",
        {"to_state": "approved"},
        content_type="application/json",
    )
    published = other.post(
        f"/api/sops/revisions/{revision_id}/transition",
        {"to_state": "published"},
        content_type="application/json",
    )
    assert published.json()["state"] == "published"
    listing = client.get("/api/sops").json()
    assert listing[0]["published_revision"] == 1 and listing[0]["runs_in_flight"] == 0
    catalog = client.get("/api/sops/catalog").json()
    assert "order.status_changed" in catalog["events"]
    assert catalog["subjects"]["order"]["fields"]["customer.tags"]["operators"] == [
        "has",
        "has_not",
    ]
    assert Sop.objects.count() == 1


def test_the_api_shows_runs_and_closes_tasks() -> None:
    owner = person(Role.OWNER)
    sop, _rev = sop_live(
        definition={
            "triggers": [event_trigger(), {"kind": "manual", "key": "hand"}],
            "steps": [task_step(title="Call")],
        },
        owner=owner,
    )
    made = order()
    client = logged_in(owner)
    started = client.post(
        f"/api/sops/{sop.pk}/start",
        {"subject_type": "order", "subject_id": made.pk},
        content_type="application/json",
        headers={"Idempotency-Key": "once"},
    )
    assert started.status_code == 201, started.content
    again = client.post(
        f"/api/sops/{sop.pk}/start",
        {"subject_type": "order", "subject_id": made.pk},
        content_type="application/json",
        headers={"Idempotency-Key": "once"},
    )
    assert again.json()["id"] == started.json()["id"]
    executor.runs_advance()
    run = client.get(f"/api/runs/{started.json()['id']}").json()
    assert run["state"] == "waiting" and run["steps"][0]["state"] == "waiting"
    task_id = run["steps"][0]["task_id"]
    tasks = client.get("/api/tasks?mine=false").json()
    assert [t["id"] for t in tasks["items"]] == [task_id]
    closed = client.post(
        f"/api/tasks/{task_id}/complete", {"note": "done"}, content_type="application/json"
    )
    assert closed.json()["state"] == "done"
    assert client.get(f"/api/runs/{run['id']}").json()["state"] == "completed"
    assert client.get(f"/api/sops/{sop.pk}/runs").json()["items"][0]["id"] == run["id"]


def test_a_customer_card_lists_runs_and_starts_an_sop_by_hand() -> None:
    from procedo.automation.tests.helpers import customer

    operator = person(Role.OPERATOR)
    sop, _rev = sop_live(
        definition={"triggers": [{"kind": "manual", "key": "hand"}], "steps": [task_step()]},
        subject_type="customer",
        name="Call back",
    )
    buyer = customer()
    client = logged_in(operator)
    card = client.get(reverse("customers:card", args=[buyer.pk])).content.decode()
    assert "SOP runs" in card and "Call back" in card
    started = client.post(
        reverse("automation:start"),
        {
            "form_token": "0a1b2c3d-1111-4e41-9a55-0c6f1e7c1b11",
            "sop_id": sop.pk,
            "subject_type": "customer",
            "subject_id": buyer.pk,
        },
    )
    run = Run.objects.get(subject_id=buyer.pk)
    assert started.url == reverse("automation:run", args=[run.pk])  # type: ignore[attr-defined]
    assert run.started_by_id == operator.pk
    card = client.get(reverse("customers:card", args=[buyer.pk])).content.decode()
    assert f"#{run.pk}" in card


def test_any_subject_has_a_page_to_start_an_sop_by_hand() -> None:
    operator = person(Role.OPERATOR)
    sop_live(
        definition={"triggers": [{"kind": "manual", "key": "hand"}], "steps": [task_step()]},
        name="Check the parcel",
    )
    made = order()
    page = logged_in(operator).get(reverse("automation:subject", args=["order", made.pk]))
    assert page.status_code == 200 and "Check the parcel" in page.content.decode()
