from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from procedo.accounts.models import User
from procedo.accounts.roles import Role
from procedo.customers.models import Customer, Identity, Note
from procedo.customers.tests.conftest import orders_set
from procedo.events.models import Event
from procedo.testing import token_client

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
JSON = "application/json"


def _post(
    client: Client, url: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> Any:
    return client.post(url, body, content_type=JSON, headers=headers)


@pytest.fixture
def olena(make_customer: MakeCustomer) -> Customer:
    customer = make_customer(
        first_name="Олена",
        last_name="Коваленко",
        emails=["olena@example.com"],
        phones=["0671234567"],
    )
    orders_set(customer, count=2, value="1500.00")
    return customer


def test_list_filters_and_pages_by_cursor(
    owner_client: Client, olena: Customer, make_customer: MakeCustomer
) -> None:
    for i in range(4):
        make_customer(first_name=f"Інший{i}")
    found = owner_client.get("/api/customers", {"search": "+380 67 123 4567"}).json()
    assert [c["id"] for c in found["items"]] == [olena.pk]
    item = found["items"][0]
    assert item["phones"] == ["+380671234567"] and item["emails"] == ["olena@example.com"]
    assert (item["lifetime_value"], item["currency"]) == ("1500.00", "UAH")

    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, str | int] = {"limit": 2, "has_orders": "false"}
        if cursor:
            params["cursor"] = cursor
        page = owner_client.get("/api/customers", params).json()
        seen.extend(c["id"] for c in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 4 == len(set(seen)) and olena.pk not in seen


def test_validation_errors_are_422_naming_the_field(owner_client: Client, olena: Customer) -> None:
    cases = [
        (owner_client.get("/api/customers", {"limit": 0}), "limit"),
        (owner_client.get("/api/customers", {"sort": "name"}), "sort"),
        (owner_client.get("/api/customers", {"cursor": "@@"}), "cursor"),
        (_post(owner_client, "/api/customers", {"phones": ["12"]}), "phone"),
        (_post(owner_client, "/api/customers", {"emails": ["x@"]}), "email"),
        (_post(owner_client, "/api/customers", {"first_name": "А", "country": "ZZ"}), "country"),
        (
            _post(owner_client, "/api/customers", {"first_name": "А", "email_consent": "yes"}),
            "email_consent",
        ),
        (_post(owner_client, "/api/customers", {}), "first_name"),
        (_post(owner_client, f"/api/customers/{olena.pk}/notes", {"body": ""}), "body"),
    ]
    for response, field in cases:
        assert response.status_code == 422, response.content
        assert response.json()["field"] == field
    assert Customer.objects.count() == 1


def test_create_conflicts_and_idempotency(owner_client: Client, olena: Customer) -> None:
    taken = _post(
        owner_client, "/api/customers", {"first_name": "Х", "phones": ["+380 67 123 45 67"]}
    )
    assert taken.status_code == 409 and taken.json()["field"] == "phone"
    body = {"first_name": "Ірина", "emails": ["Iryna@Example.com"], "email_consent": "granted"}
    first = _post(owner_client, "/api/customers", body, headers={"Idempotency-Key": "import-1"})
    again = _post(owner_client, "/api/customers", body, headers={"Idempotency-Key": "import-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    [identity] = first.json()["identities"]
    assert (identity["value"], identity["marketing_consent"]) == ("iryna@example.com", "granted")


def test_find_or_create(owner_client: Client, olena: Customer) -> None:
    found = _post(
        owner_client, "/api/customers/find-or-create", {"phone": "(067)1234567", "company": "ФОП"}
    )
    assert found.status_code == 200 and found.json()["created"] is False
    assert found.json()["customer"]["id"] == olena.pk
    assert found.json()["customer"]["company"] == "ФОП"
    made = _post(owner_client, "/api/customers/find-or-create", {"email": "new@example.com"})
    assert made.status_code == 201 and made.json()["created"] is True


def test_card_endpoints(owner_client: Client, owner: User, olena: Customer) -> None:
    base = f"/api/customers/{olena.pk}"
    patched = owner_client.patch(base, {"company": "ФОП Коваленко"}, content_type=JSON)
    assert patched.status_code == 200 and patched.json()["company"] == "ФОП Коваленко"
    assert patched.json()["first_name"] == "Олена"  # fields not sent stay

    phone = _post(owner_client, f"{base}/identities", {"kind": "phone", "value": "050 111 22 33"})
    assert phone.status_code == 201 and phone.json()["value"] == "+380501112233"
    consent = owner_client.put(
        f"{base}/identities/{phone.json()['id']}/consent",
        {"state": "granted", "source": "checkout"},
        content_type=JSON,
    )
    assert consent.status_code == 200 and consent.json()["marketing_consent"] == "granted"
    gone = owner_client.delete(f"{base}/identities/{phone.json()['id']}")
    assert gone.status_code == 204 and Identity.objects.filter(customer=olena).count() == 2

    assert _post(owner_client, f"{base}/tags", {"name": "Опт"}).json() == ["Опт"]
    assert _post(owner_client, f"{base}/tags", {"name": "VIP"}).json() == ["VIP", "Опт"]
    assert owner_client.delete(f"{base}/tags?name=опт").json() == ["VIP"]
    unknown = owner_client.delete(f"{base}/tags?name=нема")
    assert unknown.status_code == 404 and unknown.json()["field"] == "tag"

    note = _post(
        owner_client, f"{base}/notes", {"body": "Дзвонила"}, headers={"Idempotency-Key": "n1"}
    )
    _post(owner_client, f"{base}/notes", {"body": "Дзвонила"}, headers={"Idempotency-Key": "n1"})
    assert note.status_code == 201 and note.json()["author"] == str(owner)
    assert Note.objects.count() == 1
    address = _post(owner_client, f"{base}/addresses", {"line1": "Хрещатик, 1", "city": "Київ"})
    assert address.status_code == 201 and address.json()["kind"] == "shipping"

    detail = owner_client.get(base).json()
    assert [n["body"] for n in detail["notes"]] == ["Дзвонила"]
    assert detail["addresses"][0]["city"] == "Київ" and detail["tags"] == ["VIP"]
    timeline = owner_client.get(f"{base}/timeline", {"limit": 3}).json()
    assert len(timeline["items"]) == 3 and timeline["next_before"]
    assert owner_client.get("/api/customers/999999").status_code == 404


def test_merge_and_duplicates(owner_client: Client, make_customer: MakeCustomer) -> None:
    older = make_customer(first_name="Марія", phones=["+380 50 123 4567"])
    newer = make_customer(first_name="Maria", phones=["+48 501 234 567"])
    pairs = owner_client.get("/api/customers/duplicates").json()["items"]
    assert [(p["older"]["id"], p["newer"]["id"], p["same_phone"]) for p in pairs] == [
        (older.pk, newer.pk, True)
    ]
    itself = _post(owner_client, f"/api/customers/{older.pk}/merge", {"duplicate_id": older.pk})
    assert itself.status_code == 422 and itself.json()["field"] == "duplicate_id"
    merged = _post(owner_client, f"/api/customers/{older.pk}/merge", {"duplicate_id": newer.pk})
    assert merged.status_code == 200
    assert sorted(merged.json()["phones"]) == ["+380501234567", "+48501234567"]
    retired = owner_client.get(f"/api/customers/{newer.pk}").json()
    assert retired["merged_into_id"] == older.pk
    late = _post(owner_client, f"/api/customers/{newer.pk}/notes", {"body": "x"})
    assert late.status_code == 409 and late.json()["field"] == "customer_id"


def test_roles_without_permission_get_403_and_nothing_changes(
    make_user: Callable[..., User], olena: Customer
) -> None:
    marketer = make_user(Role.MARKETER)
    client = token_client(marketer)
    assert client.get("/api/customers").status_code == 200
    before = Event.objects.count()
    for response in (
        _post(client, "/api/customers", {"first_name": "X"}),
        _post(client, f"/api/customers/{olena.pk}/tags", {"name": "VIP"}),
        client.patch(f"/api/customers/{olena.pk}", {"first_name": "Y"}, content_type=JSON),
        _post(client, f"/api/customers/{olena.pk}/merge", {"duplicate_id": 1}),
    ):
        assert response.status_code == 403
        assert response.json()["field"] == "permission"
        assert "customers.change" in response.json()["detail"]
    assert Event.objects.count() == before and Customer.objects.get().first_name == "Олена"
    assert Client().get("/api/customers").status_code == 401
