from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import override_settings

from procedo.accounts.models import User
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.customers import normalise, selectors
from procedo.customers.models import (
    Address,
    ConsentState,
    Customer,
    CustomerSearchTerm,
    CustomerTag,
    Identity,
    Note,
    Tag,
)
from procedo.customers.registry import merge_participant_register, merge_participant_unregister
from procedo.customers.services.bulk import customer_search_reindex
from procedo.customers.services.customers import (
    customer_create,
    customer_find_or_create,
    customer_update,
)
from procedo.customers.services.details import address_add, note_add, tag_add, tag_remove
from procedo.customers.services.identities import consent_set, identity_add, identity_remove
from procedo.customers.services.merging import customer_merge, duplicate_dismiss
from procedo.customers.tests.conftest import orders_set
from procedo.events.models import Event

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]


def _counts() -> tuple[int, ...]:
    return (
        Customer.objects.count(),
        Identity.objects.count(),
        Address.objects.count(),
        Note.objects.count(),
        Tag.objects.count(),
        CustomerTag.objects.count(),
        Event.objects.count(),
    )


def _events(customer: Customer) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.event_type, e.payload)
        for e in Event.objects.filter(customer_id=customer.pk).order_by("id")
    ]


@pytest.mark.parametrize(
    "written",
    [
        "067 123 45 67",
        "(067)1234567",
        "+380 67 123 4567",
        "0671234567",
        "+380671234567",
        "067-123-45-67",
    ],
)
def test_local_ukrainian_phone_formats_become_one_e164(written: str) -> None:
    phone = normalise.phone_normalise(written)
    assert (phone.e164, phone.national_digits, phone.tail) == (
        "+380671234567",
        "0671234567",
        "671234567",
    )


@override_settings(PROCEDO_PHONE_REGION="PL")
def test_the_phone_region_setting_decides_local_numbers() -> None:
    assert normalise.phone_normalise("601 234 567").e164 == "+48601234567"
    assert normalise.phone_normalise("+380671234567").e164 == "+380671234567"


def test_create_stores_cyrillic_names_normalised_identities_and_one_event(owner: User) -> None:
    customer = customer_create(
        first_name=" Олена ",
        last_name="Коваленко",
        emails=["  Olena.K@Example.COM "],
        phones=["067 123 45 67"],
        email_consent=ConsentState.GRANTED,
        consent_source="checkout",
        actor=owner,
    )
    customer.refresh_from_db()
    assert (customer.first_name, customer.last_name, customer.name_key) == (
        "Олена",
        "Коваленко",
        "олена коваленко",
    )
    identities = {i.kind: i for i in Identity.objects.filter(customer=customer)}
    assert identities["email"].value == "olena.k@example.com"
    assert identities["email"].marketing_consent == ConsentState.GRANTED
    assert identities["email"].consent_source == "checkout"
    assert identities["phone"].value == "+380671234567"
    assert identities["phone"].phone_tail == "671234567"
    assert identities["phone"].marketing_consent == ConsentState.UNKNOWN
    assert customer.search_text == (
        "олена коваленко olena.k@example.com 380671234567 0671234567 671234567"
    )
    assert {"олена", "коваленко", "олена коваленко", "коваленко олена"} <= set(
        CustomerSearchTerm.objects.filter(customer=customer).values_list("term", flat=True)
    )
    [event] = Event.objects.filter(event_type__startswith="customer.")
    assert (event.event_type, event.customer_id, event.subject_id, event.actor_id) == (
        "customer.created",
        customer.pk,
        customer.pk,
        owner.pk,
    )
    assert event.payload["identities"] == ["olena.k@example.com", "+380671234567"]


def test_an_identity_of_another_customer_is_refused_in_any_format(
    make_customer: MakeCustomer,
) -> None:
    first = make_customer(first_name="Олена", emails=["olena@example.com"], phones=["0671234567"])
    before = _counts()
    with pytest.raises(Conflict) as caught:
        make_customer(first_name="Інша", phones=["+380 67 123 45 67"])
    assert caught.value.field == "phone" and f"#{first.pk}" in caught.value.message
    with pytest.raises(Conflict) as caught:
        make_customer(first_name="Інша", emails=["OLENA@example.com"])
    assert caught.value.field == "email"
    assert _counts() == before


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"first_name": "Олена", "emails": ["olena@"]}, "email"),
        ({"first_name": "Олена", "phones": ["12345"]}, "phone"),
        ({"first_name": "Олена", "phones": ["067 123"]}, "phone"),
        ({"first_name": "Олена", "country": "ZZ"}, "country"),
        ({"first_name": "Олена", "email_consent": "maybe"}, "email_consent"),
        ({"first_name": "О" * 151}, "first_name"),
        ({}, "first_name"),
        ({"first_name": "   "}, "first_name"),
    ],
)
def test_bad_input_names_the_field_and_writes_nothing(
    make_customer: MakeCustomer, kwargs: dict[str, Any], field: str
) -> None:
    make_customer(first_name="Тарас")
    before = _counts()
    with pytest.raises(DomainError) as caught:
        make_customer(**kwargs)
    assert caught.value.field == field
    assert _counts() == before


def test_create_with_the_same_idempotency_key_creates_once(owner: User) -> None:
    made = [
        customer_create(first_name="Ірина", actor=owner, idempotency_key="ui:k1") for _ in range(2)
    ]
    assert made[0].pk == made[1].pk and Customer.objects.count() == 1


def test_find_or_create_reuses_the_customer_an_identity_points_at(
    make_customer: MakeCustomer,
) -> None:
    olena = make_customer(emails=["olena@example.com"])
    match = customer_find_or_create(
        email="OLENA@Example.com",
        phone="(067)1234567",
        first_name="Олена",
        last_name="Коваленко",
        external_ref="shop:42",
        phone_consent=ConsentState.DENIED,
        consent_source="shop",
    )
    assert match.created is False and match.customer.pk == olena.pk
    olena.refresh_from_db()
    assert (olena.first_name, olena.last_name, olena.external_ref) == (
        "Олена",
        "Коваленко",
        "shop:42",
    )
    phone = Identity.objects.get(kind="phone")
    assert (phone.customer_id, phone.value, phone.marketing_consent) == (
        olena.pk,
        "+380671234567",
        ConsentState.DENIED,
    )
    assert [t for t, _p in _events(olena)] == [
        "customer.created",
        "customer.updated",
        "customer.identity_added",
    ]
    # Found by the phone written another way; a repeated import writes nothing.
    before = _counts()
    again = customer_find_or_create(phone="+380 67 123 4567", first_name="Оля")
    assert again.customer.pk == olena.pk and not again.created
    assert _counts() == before
    assert [c.pk for c in selectors.customer_list(search="коваленко").items] == [olena.pk]


def test_find_or_create_creates_when_nothing_matches_and_follows_merges(
    make_customer: MakeCustomer,
) -> None:
    made = customer_find_or_create(
        email="new@example.com", external_ref="shop:7", first_name="Софія"
    )
    assert made.created and made.customer.external_ref == "shop:7"
    survivor = make_customer(first_name="Софія", last_name="Кравченко")
    customer_merge(survivor_id=survivor.pk, duplicate_id=made.customer.pk, actor=None)
    found = customer_find_or_create(external_ref="shop:7")
    assert found.customer.pk == survivor.pk and not found.created


def test_find_or_create_does_not_steal_an_identity_of_another_customer(
    make_customer: MakeCustomer,
) -> None:
    olena = make_customer(first_name="Олена", emails=["olena@example.com"])
    taras = make_customer(first_name="Тарас", phones=["0501234567"])
    match = customer_find_or_create(email="olena@example.com", phone="050 123 45 67")
    assert match.customer.pk == olena.pk
    assert Identity.objects.get(kind="phone").customer_id == taras.pk


def test_update_records_what_changed_and_reindexes_the_name(
    make_customer: MakeCustomer, owner: User
) -> None:
    customer = make_customer(first_name="Олена", last_name="Коваленко")
    customer_update(customer_id=customer.pk, last_name="Шевчук", country="ua", actor=owner)
    assert _events(customer)[-1] == (
        "customer.updated",
        {"changes": {"last_name": ["Коваленко", "Шевчук"], "country": ["", "UA"]}},
    )
    assert [c.pk for c in selectors.customer_list(search="шевчук").items] == [customer.pk]
    assert selectors.customer_list(search="коваленко").items == []
    before = _counts()
    customer_update(customer_id=customer.pk, last_name="Шевчук", actor=owner)
    assert _counts() == before  # nothing changed, nothing recorded


def test_identities_and_consent_record_their_events(
    make_customer: MakeCustomer, owner: User
) -> None:
    customer = make_customer(first_name="Максим")
    phone = identity_add(customer_id=customer.pk, kind="phone", value="050 123 45 67", actor=owner)
    assert phone.value == "+380501234567"
    again = identity_add(customer_id=customer.pk, kind="phone", value="+380501234567", actor=owner)
    assert again.pk == phone.pk  # already theirs: no second row, no event
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    consent_set(
        customer_id=customer.pk,
        identity_id=phone.pk,
        state=ConsentState.GRANTED,
        source="phone call",
        changed_at=at,
        actor=owner,
    )
    phone.refresh_from_db()
    assert (phone.marketing_consent, phone.consent_changed_at, phone.consent_source) == (
        ConsentState.GRANTED,
        at,
        "phone call",
    )
    consent_set(
        customer_id=customer.pk,
        identity_id=phone.pk,
        state=ConsentState.GRANTED,
        source="again",
        actor=owner,
    )
    assert [c.pk for c in selectors.customer_list(search="0501234567").items] == [customer.pk]
    identity_remove(customer_id=customer.pk, identity_id=phone.pk, actor=owner)
    assert selectors.customer_list(search="0501234567").items == []
    assert _events(customer)[1:] == [
        ("customer.identity_added", {"kind": "phone", "value": "+380501234567"}),
        (
            "customer.consent_changed",
            {
                "channel": "sms",
                "value": "+380501234567",
                "from": "unknown",
                "to": "granted",
                "source": "phone call",
            },
        ),
        ("customer.identity_removed", {"kind": "phone", "value": "+380501234567"}),
    ]


def test_consent_and_identity_errors_name_the_field(make_customer: MakeCustomer) -> None:
    customer = make_customer(first_name="Ірина", emails=["iryna@example.com"])
    other = make_customer(first_name="Тарас")
    identity = Identity.objects.get()
    anonymous = make_customer(phones=["0501234567"])
    last = Identity.objects.get(customer=anonymous)
    before = _counts()
    cases: list[tuple[Callable[[], Any], str]] = [
        (
            lambda: identity_remove(customer_id=anonymous.pk, identity_id=last.pk, actor=None),
            "identity_id",
        ),
        (
            lambda: consent_set(
                customer_id=customer.pk, identity_id=identity.pk, state="yes", source="", actor=None
            ),
            "state",
        ),
        (
            lambda: consent_set(
                customer_id=other.pk, identity_id=identity.pk, state="denied", source="", actor=None
            ),
            "identity_id",
        ),
        (
            lambda: identity_add(
                customer_id=other.pk, kind="email", value="IRYNA@example.com", actor=None
            ),
            "email",
        ),
        (
            lambda: identity_add(customer_id=other.pk, kind="fax", value="123", actor=None),
            "kind",
        ),
        (
            lambda: identity_add(
                customer_id=999_999, kind="email", value="x@example.com", actor=None
            ),
            "customer_id",
        ),
    ]
    for call, field in cases:
        with pytest.raises(DomainError) as caught:
            call()
        assert caught.value.field == field
    assert _counts() == before


def test_tags_are_one_whatever_the_case_cyrillic_included(
    make_customer: MakeCustomer, owner: User
) -> None:
    first, second = make_customer(first_name="А"), make_customer(first_name="Б")
    tag_add(customer_id=first.pk, name="Опт", actor=owner)
    tag_add(customer_id=second.pk, name="  ОПТ ", actor=owner)
    tag_add(customer_id=second.pk, name="опт", actor=owner)
    assert list(Tag.objects.values_list("name", "name_key")) == [("Опт", "опт")]
    assert CustomerTag.objects.count() == 2
    assert [t for t, _p in _events(second)] == ["customer.created", "customer.tagged"]
    tag_remove(customer_id=second.pk, name="оПТ", actor=owner)
    assert [t.name for t in selectors.customer_card(customer_id=second.pk).tags] == []
    before = _counts()
    with pytest.raises(NotFound) as caught:
        tag_remove(customer_id=first.pk, name="VIP", actor=owner)
    assert caught.value.field == "tag"
    with pytest.raises(DomainError) as empty:
        tag_add(customer_id=first.pk, name="   ", actor=owner)
    assert empty.value.field == "tag"
    assert _counts() == before


def test_notes_and_addresses(make_customer: MakeCustomer, owner: User) -> None:
    customer = make_customer(first_name="Андрій")
    for _ in range(2):
        note = note_add(
            customer_id=customer.pk,
            body=" Дзвонив щодо повернення ",
            actor=owner,
            idempotency_key="ui:n1",
        )
    assert (Note.objects.count(), note.body, note.author_id) == (
        1,
        "Дзвонив щодо повернення",
        owner.pk,
    )
    address = address_add(
        customer_id=customer.pk,
        line1="вул. Хрещатик, 1",
        city="Київ",
        postcode="01 001",
        country="ua",
        actor=owner,
    )
    assert (address.country, address.postcode_key, address.place_key) == (
        "UA",
        "01001",
        "київ|вул. хрещатик, 1",
    )
    before = _counts()
    for kwargs, field in [
        ({"line1": "", "city": "Київ"}, "line1"),
        ({"line1": "вул. Січових Стрільців, 5", "city": ""}, "city"),
        ({"line1": "x", "city": "y", "kind": "home"}, "kind"),
        ({"line1": "x", "city": "y", "country": "Ukraine"}, "country"),
    ]:
        with pytest.raises(DomainError) as caught:
            address_add(customer_id=customer.pk, actor=owner, **kwargs)
        assert caught.value.field == field
    with pytest.raises(DomainError) as caught:
        note_add(customer_id=customer.pk, body="  ", actor=owner)
    assert caught.value.field == "body"
    assert _counts() == before
    assert [t for t, _p in _events(customer)] == [
        "customer.created",
        "customer.note_added",
        "customer.address_added",
    ]


def test_merge_moves_everything_and_records_who_merged_what(
    make_customer: MakeCustomer, owner: User, participant_calls: list[tuple[int, int]]
) -> None:
    survivor = make_customer(first_name="Олена", emails=["olena@example.com"], external_ref=None)
    duplicate = make_customer(
        first_name="Олена",
        last_name="Коваленко",
        company="ФОП Коваленко",
        phones=["0671234567"],
        external_ref="shop:9",
    )
    for customer, tags in ((survivor, ["VIP"]), (duplicate, ["vip", "Опт"])):
        for tag in tags:
            tag_add(customer_id=customer.pk, name=tag, actor=owner)
    note_add(customer_id=duplicate.pk, body="Стара нотатка", actor=owner)
    address_add(customer_id=duplicate.pk, line1="Хрещатик, 1", city="Київ", actor=owner)
    earlier = datetime(2025, 1, 5, tzinfo=UTC)
    later = datetime(2026, 2, 1, tzinfo=UTC)
    orders_set(survivor, count=1, value="100.00", last=later)
    orders_set(duplicate, count=2, value="300.50", last=earlier)
    duplicate_events = Event.objects.filter(customer_id=duplicate.pk).count()

    merged = customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=owner)

    assert merged.pk == survivor.pk and participant_calls == [(survivor.pk, duplicate.pk)]
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (survivor.last_name, survivor.company, survivor.external_ref) == (
        "Коваленко",
        "ФОП Коваленко",
        "shop:9",
    )
    assert (survivor.orders_count, survivor.lifetime_value) == (3, Decimal("400.50"))
    assert (survivor.first_order_at, survivor.last_order_at) == (earlier, later)
    assert (duplicate.merged_into_id, duplicate.orders_count, duplicate.external_ref) == (
        survivor.pk,
        0,
        None,
    )
    assert duplicate.merged_at is not None
    card = selectors.customer_card(customer_id=survivor.pk)
    assert sorted(i.value for i in card.identities) == ["+380671234567", "olena@example.com"]
    assert sorted(t.name for t in card.tags) == ["VIP", "Опт"]
    assert [n.body for n in card.notes] == ["Стара нотатка"]
    assert [a.city for a in card.addresses] == ["Київ"]
    assert [c.pk for c in card.merged_from] == [duplicate.pk]
    assert not Event.objects.filter(customer_id=duplicate.pk).exists()
    assert not CustomerSearchTerm.objects.filter(customer=duplicate).exists()
    assert [c.pk for c in selectors.customer_list(search="067 123 45 67").items] == [survivor.pk]
    event = Event.objects.get(event_type="customer.merged")
    assert (event.customer_id, event.subject_id, event.actor_id) == (
        survivor.pk,
        survivor.pk,
        owner.pk,
    )
    assert event.payload == {
        "survivor_id": survivor.pk,
        "duplicate_id": duplicate.pk,
        "duplicate_name": "Олена Коваленко",
        "moved": {
            "identities": 1,
            "addresses": 1,
            "tags": 1,
            "notes": 1,
            "events": duplicate_events,
            "test_orders": 7,
        },
    }
    # The same merge again (a double click) changes nothing.
    before = _counts()
    customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=owner)
    assert _counts() == before


def test_merge_refusals_name_the_field_and_change_nothing(make_customer: MakeCustomer) -> None:
    a, b, c = (make_customer(first_name=name) for name in ("Андрій", "Богдан", "Віра"))
    before = _counts()
    with pytest.raises(DomainError) as caught:
        customer_merge(survivor_id=a.pk, duplicate_id=a.pk, actor=None)
    assert caught.value.field == "duplicate_id"
    with pytest.raises(NotFound) as caught:
        customer_merge(survivor_id=999_999, duplicate_id=a.pk, actor=None)
    assert caught.value.field == "survivor_id"
    assert _counts() == before

    customer_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=None)
    after_first = _counts()
    with pytest.raises(Conflict) as caught:
        customer_merge(survivor_id=c.pk, duplicate_id=b.pk, actor=None)
    assert caught.value.field == "duplicate_id"
    with pytest.raises(Conflict) as caught:
        customer_merge(survivor_id=b.pk, duplicate_id=c.pk, actor=None)
    assert caught.value.field == "survivor_id"
    with pytest.raises(Conflict) as caught:
        note_add(customer_id=b.pk, body="to a merged customer", actor=None)
    assert caught.value.field == "customer_id"
    assert _counts() == after_first


def test_a_failing_participant_undoes_the_whole_merge(make_customer: MakeCustomer) -> None:
    survivor = make_customer(first_name="Олена")
    duplicate = make_customer(first_name="Олена", phones=["0671234567"])

    def broken(survivor_id: int, duplicate_id: int) -> int:
        raise RuntimeError("orders are locked")

    merge_participant_register(broken, name="broken")
    try:
        before = _counts()
        with pytest.raises(RuntimeError):
            customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=None)
    finally:
        merge_participant_unregister("broken")
    duplicate.refresh_from_db()
    assert duplicate.merged_into_id is None
    assert Identity.objects.get().customer_id == duplicate.pk
    assert _counts() == before


def test_merges_flatten_so_old_records_point_at_the_last_survivor(
    make_customer: MakeCustomer,
) -> None:
    a, b, c = (make_customer(first_name=name) for name in ("А", "Б", "В"))
    customer_merge(survivor_id=b.pk, duplicate_id=c.pk, actor=None)
    customer_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=None)
    assert Customer.objects.get(pk=c.pk).merged_into_id == a.pk


def test_every_customer_event_carries_the_customer(
    make_customer: MakeCustomer, owner: User
) -> None:
    a = make_customer(first_name="Олена", emails=["o@example.com"])
    b = make_customer(first_name="Олена", phones=["0671234567"])
    tag_add(customer_id=a.pk, name="VIP", actor=owner)
    note_add(customer_id=b.pk, body="x", actor=owner)
    duplicate_dismiss(customer_id=b.pk, other_id=a.pk, actor=owner)
    customer_merge(survivor_id=a.pk, duplicate_id=b.pk, actor=owner)
    customer_events = Event.objects.filter(event_type__startswith="customer.")
    assert customer_events.count() == 6
    assert set(customer_events.values_list("customer_id", flat=True)) == {a.pk}


def test_search_reindex_rebuilds_rows_inserted_in_bulk(db: None) -> None:
    rows = Customer.objects.bulk_create(
        [Customer(first_name="Ярослава", last_name=f"Бондар{i}") for i in range(3)]
    )
    assert selectors.customer_list(search="ярослава").items == []
    assert customer_search_reindex(customer_ids=[row.pk for row in rows]) == 3
    assert len(selectors.customer_list(search="ярослава").items) == 3
