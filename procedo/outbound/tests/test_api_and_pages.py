"""Webhooks through the API and the pages: bad input is a 4xx naming the field, and changes
nothing; the secret is shown once; only owners and managers may."""

from __future__ import annotations

import pytest
from django.conf import settings

from procedo.accounts.roles import Role
from procedo.events.models import Event
from procedo.events.timeline import timeline_lines
from procedo.outbound.models import Delivery, Subscription
from procedo.testing import api_caller, logged_in, person

pytestmark = pytest.mark.django_db

GOOD = {"name": "Warehouse", "url": "https://93.184.216.34/hooks", "event_types": ["order.paid"]}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"url": "ftp://93.184.216.34/hooks"}, "url"),
        ({"url": "javascript:alert(1)"}, "url"),
        ({"url": "http://127.0.0.1:8000/admin"}, "url"),
        ({"url": "http://10.1.2.3/hooks"}, "url"),
        ({"url": "http://169.254.169.254/latest/meta-data"}, "url"),
        ({"url": "http://[::1]/hooks"}, "url"),
        ({"url": "http://[::1/hooks"}, "url"),
        ({"url": "https://93.184.216.34:99999/hooks"}, "url"),
        ({"url": "https://93.184.216.34/" + "a" * 2000}, "url"),
        ({"event_types": ["order.teleported"]}, "event_types"),
        ({"event_types": []}, "event_types"),
        ({"name": ""}, "name"),
    ],
)
def test_bad_input_is_refused_naming_the_field(change: dict[str, object], field: str) -> None:
    call = api_caller(person(Role.MANAGER))
    response = call("post", "/webhooks", {**GOOD, **change})
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert not Subscription.objects.exists()


def test_loopback_is_allowed_only_by_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "PROCEDO_WEBHOOKS_ALLOW_PRIVATE", True)
    call = api_caller(person(Role.OWNER))
    response = call("post", "/webhooks", {**GOOD, "url": "http://127.0.0.1:9/hooks"})
    assert response.status_code == 201


def test_the_api_makes_pauses_resumes_tests_and_redelivers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The sender is the worker's; here only what the API answers and stores is checked.
    monkeypatch.setattr("procedo.outbound.services._wake_sender_on_commit", lambda: None)
    manager = person(Role.MANAGER)
    call = api_caller(manager)
    assert {"key": "order.paid", "label": "Order paid in full"} in call(
        "get", "/webhooks/event-types"
    ).json()

    made = call("post", "/webhooks", GOOD, **{"Idempotency-Key": "k1"})
    assert made.status_code == 201
    created = made.json()
    assert created["secret"].startswith("whsec_") and created["state"] == "active"
    again = call("post", "/webhooks", GOOD, **{"Idempotency-Key": "k1"})
    assert again.json()["id"] == created["id"] and Subscription.objects.count() == 1
    webhook_id = created["id"]
    shown = call("get", f"/webhooks/{webhook_id}").json()
    assert "secret" not in shown and shown["secret_hint"] == "…" + created["secret"][-4:]

    changed = call(
        "put", f"/webhooks/{webhook_id}", {**GOOD, "event_types": ["order.paid", "refund.recorded"]}
    )
    assert changed.json()["event_types"] == ["order.paid", "refund.recorded"]
    bad = call("put", f"/webhooks/{webhook_id}", {**GOOD, "url": "gopher://x"})
    assert (bad.status_code, bad.json()["field"]) == (422, "url")

    paused = call("post", f"/webhooks/{webhook_id}/pause", {"reason": "Moving servers"}).json()
    assert (paused["state"], paused["paused_reason"]) == ("paused", "Moving servers")
    refused = call("post", f"/webhooks/{webhook_id}/test")
    assert (refused.status_code, refused.json()["field"]) == (409, "state")
    assert call("post", f"/webhooks/{webhook_id}/resume").json()["state"] == "active"

    test = call("post", f"/webhooks/{webhook_id}/test", **{"Idempotency-Key": "t1"})
    assert test.status_code == 201 and test.json()["event_type"] == "webhook.test"
    twin = call("post", f"/webhooks/{webhook_id}/test", **{"Idempotency-Key": "t1"})
    assert twin.json()["uid"] == test.json()["uid"] and Delivery.objects.count() == 1

    Delivery.objects.update(state="failed", response_code=500, attempts=1)
    page = call("get", f"/webhooks/{webhook_id}/deliveries", {"state": "failed"}).json()
    assert [(d["uid"], d["response_code"], d["error"]) for d in page["items"]] == [
        (test.json()["uid"], 500, "The server answered 500.")
    ]
    redelivered = call("post", f"/webhooks/deliveries/{page['items'][0]['id']}/redeliver").json()
    assert (redelivered["state"], redelivered["uid"]) == ("pending", test.json()["uid"])

    told = [line.plain for line in timeline_lines(list(Event.objects.order_by("id")))]
    who = str(manager)
    for sentence in (
        f"{who} made the webhook Warehouse",
        f"{who} paused the webhook Warehouse",
        f"{who} sent a test event to the webhook Warehouse",
        f"{who} had a delivery of the webhook Warehouse sent again",
    ):
        assert sentence in told


def test_operators_may_not_and_the_pages_show_the_secret_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator = logged_in(person(Role.OPERATOR))
    assert operator.get("/webhooks/").status_code == 403
    assert api_caller(person(Role.SUPPORT))("get", "/webhooks").status_code == 403

    client = logged_in(person(Role.OWNER))
    form = client.get("/webhooks/new/")
    assert form.status_code == 200 and "Order paid in full" in form.content.decode()
    token = form.context["form"]["form_token"].value()
    data = {**GOOD, "url": "file:///etc/passwd", "form_token": token}
    refused = client.post("/webhooks/new/", data)
    assert refused.status_code == 422
    assert "must start with https:// or http://" in refused.content.decode()
    assert not Subscription.objects.exists()

    made = client.post("/webhooks/new/", {**data, "url": GOOD["url"]})
    webhook = Subscription.objects.get()
    assert made.status_code == 201 and webhook.secret in made.content.decode()
    detail = client.get(f"/webhooks/{webhook.pk}/").content.decode()
    assert webhook.secret not in detail and webhook.secret_hint in detail
    assert webhook.secret not in client.get("/webhooks/").content.decode()
