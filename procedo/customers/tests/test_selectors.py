from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from procedo.accounts.models import User
from procedo.core.errors import DomainError
from procedo.customers import selectors
from procedo.customers.models import Customer
from procedo.customers.services.details import address_add, note_add, tag_add
from procedo.customers.services.identities import identity_remove
from procedo.customers.services.merging import customer_merge, duplicate_dismiss
from procedo.customers.tests.conftest import orders_set

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]


def _names(customers: list[selectors.ListedCustomer]) -> list[str]:
    return [str(customer) for customer in customers]


@pytest.fixture
def olena(make_customer: MakeCustomer) -> Customer:
    return make_customer(
        first_name="Олена",
        last_name="Коваленко",
        emails=["Olena.Kovalenko@example.com"],
        phones=["067 123 45 67"],
    )


@pytest.fixture
def others(make_customer: MakeCustomer) -> list[Customer]:
    return [
        make_customer(first_name="Ольга", last_name="Шевчук", phones=["050 765 43 21"]),
        make_customer(first_name="Taras", last_name="Olenych", emails=["taras@example.com"]),
        make_customer(company="ТОВ Оленка", emails=["info@olenka.ua"]),
    ]


@pytest.mark.parametrize(
    "query",
    [
        "0671234567",
        "+380671234567",
        "067 123 45 67",
        "(067)1234567",
        "+380 67 123 4567",
        "67 123",
        "380671",
    ],
)
def test_search_finds_a_phone_written_any_way(
    olena: Customer, others: list[Customer], query: str
) -> None:
    assert [c.pk for c in selectors.customer_list(search=query).items] == [olena.pk]


@pytest.mark.parametrize("query", ["4567", "34567", "45 67", "3-45-67", "671234567"])
def test_search_finds_a_phone_by_its_last_digits(
    olena: Customer, others: list[Customer], query: str
) -> None:
    assert [c.pk for c in selectors.customer_list(search=query).items] == [olena.pk]


def test_last_digits_match_the_end_of_a_phone_only(
    make_customer: MakeCustomer, olena: Customer, owner: User
) -> None:
    courier = make_customer(first_name="Богдан", phones=["+380 93 555 22 45"])
    make_customer(first_name="Середина", phones=["+380 93 224 51 11"])  # 2245 inside
    make_customer(first_name="Пошта", emails=["2245@example.com"])  # a word, not a phone
    assert _names(selectors.customer_list(search="2245").items) == ["Пошта", "Богдан"]
    # Three digits are too few to mean "ends with": only prefixes, as before.
    assert selectors.customer_list(search="245").items == []
    (phone,) = courier.identities.filter(kind="phone")
    identity_remove(customer_id=courier.pk, identity_id=phone.pk, actor=owner)
    assert _names(selectors.customer_list(search="2245").items) == ["Пошта"]


def test_a_merged_customer_is_not_found_by_last_digits(
    make_customer: MakeCustomer, owner: User
) -> None:
    survivor = make_customer(first_name="Ліна", phones=["050 111 22 33"])
    duplicate = make_customer(first_name="Ліна", phones=["050 999 22 33"])
    customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=owner)
    assert [c.pk for c in selectors.customer_list(search="2233").items] == [survivor.pk]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("олена", ["Олена Коваленко"]),
        ("ОЛЕНА", ["Олена Коваленко"]),
        ("Олена Ков", ["Олена Коваленко"]),
        ("коваленко олена", ["Олена Коваленко"]),
        ("оле", ["ТОВ Оленка", "Олена Коваленко"]),
        ("ол", ["ТОВ Оленка", "Ольга Шевчук", "Олена Коваленко"]),
        ("OLENA.KOV", ["Олена Коваленко"]),
        ("olen", ["Taras Olenych", "Олена Коваленко"]),
        ("INFO@OLENKA", ["ТОВ Оленка"]),
        ("шевчук", ["Ольга Шевчук"]),
        ("ленa", []),
        ("олена шевчук", []),
    ],
)
def test_search_is_case_insensitive_in_every_alphabet(
    olena: Customer, others: list[Customer], query: str, expected: list[str]
) -> None:
    assert _names(selectors.customer_list(search=query).items) == expected


def test_filters(make_customer: MakeCustomer, owner: User) -> None:
    now = datetime(2026, 3, 10, 12, tzinfo=UTC)
    buyer = make_customer(first_name="Покупець", country="UA")
    lapsed = make_customer(first_name="Давній", country="PL")
    never = make_customer(first_name="Новий", country="UA")
    orders_set(buyer, count=3, value="900", last=now)
    orders_set(lapsed, count=1, value="50", last=now - timedelta(days=200))
    tag_add(customer_id=buyer.pk, name="ВІП", actor=owner)
    tag_add(customer_id=never.pk, name="Опт", actor=owner)

    def names(**filters: Any) -> list[str]:
        return _names(selectors.customer_list(**filters).items)

    assert names(tag="віп") == ["Покупець"]
    assert names(tag="нема такого") == []
    assert names(has_orders=True) == ["Давній", "Покупець"]
    assert names(has_orders=False) == ["Новий"]
    assert names(last_order_after=date(2026, 1, 1)) == ["Покупець"]
    assert names(last_order_before=date(2026, 1, 1)) == ["Давній"]
    assert names(country="ua") == ["Новий", "Покупець"]
    assert names(country="ua", has_orders=True, tag="ВІП", search="пок") == ["Покупець"]
    assert names(sort="value") == ["Покупець", "Давній", "Новий"]
    with pytest.raises(DomainError) as caught:
        selectors.customer_list(sort="name")
    assert caught.value.field == "sort"
    with pytest.raises(DomainError) as caught:
        selectors.customer_list(country="Ukraine")
    assert caught.value.field == "country"


def test_merged_customers_are_not_listed_nor_found(make_customer: MakeCustomer) -> None:
    survivor = make_customer(first_name="Олена", last_name="Коваленко")
    duplicate = make_customer(first_name="Олена", last_name="Коваленко", phones=["0671234567"])
    customer_merge(survivor_id=survivor.pk, duplicate_id=duplicate.pk, actor=None)
    assert [c.pk for c in selectors.customer_list().items] == [survivor.pk]
    assert [c.pk for c in selectors.customer_list(search="олена").items] == [survivor.pk]
    assert [c.pk for c in selectors.customer_list(search="0671234567").items] == [survivor.pk]


@pytest.mark.parametrize("sort", ["newest", "value"])
def test_keyset_paging_never_repeats_or_skips(db: None, sort: str) -> None:
    # Ties on purpose: many customers share a created_at and a lifetime value,
    # so only the id tie-breaker keeps the pages apart.
    base = datetime(2026, 1, 1, tzinfo=UTC)
    Customer.objects.bulk_create(
        [
            Customer(
                first_name=f"Клієнт {i}",
                created_at=base + timedelta(hours=i % 4),
                lifetime_value=(i % 3) * 100,
            )
            for i in range(23)
        ]
    )
    rows = list(Customer.objects.all())
    key = (
        (lambda c: (c.created_at, c.pk))
        if sort == "newest"
        else (lambda c: (c.lifetime_value, c.pk))
    )
    expected = [c.pk for c in sorted(rows, key=key, reverse=True)]

    seen: list[int] = []
    cursor = None
    pages = 0
    while True:
        page = selectors.customer_list(sort=sort, cursor=cursor, limit=5)
        seen.extend(customer.pk for customer in page.items)
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == expected and pages == 5


def test_a_bad_cursor_names_the_field(db: None) -> None:
    with pytest.raises(DomainError) as caught:
        selectors.customer_list(cursor="not-a-cursor")
    assert caught.value.field == "cursor"


def test_a_page_is_three_queries_whatever_its_size(
    make_customer: MakeCustomer, owner: User, django_assert_num_queries: Any
) -> None:
    for i in range(30):
        customer = make_customer(
            first_name=f"Олена {i}", emails=[f"o{i}@example.com"], phones=[f"067 000 00 {i:02d}"]
        )
        tag_add(customer_id=customer.pk, name="VIP", actor=owner)
    # The page, its identities, its tags: never one query per customer.
    with django_assert_num_queries(3):
        page = selectors.customer_list(search="олена", tag="vip", limit=25)
        rendered = [(c.emails, c.phones, c.tags) for c in page.items]
    assert len(rendered) == 25 and page.next_cursor


# ---------------------------------------------------------------- card and lookups


def test_card_holds_everything_in_six_queries(
    olena: Customer, owner: User, django_assert_num_queries: Any
) -> None:
    tag_add(customer_id=olena.pk, name="VIP", actor=owner)
    note_add(customer_id=olena.pk, body="Перша", actor=owner)
    note_add(customer_id=olena.pk, body="Друга", actor=owner)
    address_add(customer_id=olena.pk, line1="Хрещатик, 1", city="Київ", actor=owner)
    orders_set(olena, count=4, value="1000.00")
    with django_assert_num_queries(6):
        card = selectors.customer_card(customer_id=olena.pk)
        authors = [str(note.author) for note in card.notes]
    assert [n.body for n in card.notes] == ["Друга", "Перша"] and len(set(authors)) == 1
    assert [i.kind for i in card.identities] == ["email", "phone"]
    assert [t.name for t in card.tags] == ["VIP"] and len(card.addresses) == 1
    assert card.average_order_value == 250


def test_find_by_identity_in_any_format(olena: Customer) -> None:
    assert selectors.customer_find(phone="+380 (67) 123-45-67") == olena
    assert selectors.customer_find(email="OLENA.KOVALENKO@EXAMPLE.COM") == olena
    assert selectors.customer_find(email="nobody@example.com") is None
    with pytest.raises(DomainError) as caught:
        selectors.customer_find(phone="12")
    assert caught.value.field == "phone"


# ---------------------------------------------------------------- duplicates


def test_duplicates_by_phone_tail_and_by_name_with_address(
    make_customer: MakeCustomer, owner: User, django_assert_num_queries: Any
) -> None:
    # The same nine last digits under two country codes: a local number parsed
    # with the wrong region, or a typo in the code.
    ua = make_customer(first_name="Марія", phones=["+380 50 123 4567"])
    pl = make_customer(first_name="Maria", phones=["+48 501 234 567"])
    first = make_customer(first_name="Олена", last_name="Коваленко")
    second = make_customer(first_name="ОЛЕНА", last_name=" коваленко ")
    namesake = make_customer(first_name="Олена", last_name="Коваленко")
    address_add(
        customer_id=first.pk, line1="Хрещатик, 1", city="Київ", postcode="01001", actor=owner
    )
    address_add(
        customer_id=second.pk, line1="Інша вулиця, 5", city="Київ", postcode="01 001", actor=owner
    )
    address_add(customer_id=namesake.pk, line1="ХРЕЩАТИК, 1", city="київ", actor=owner)
    unrelated = make_customer(first_name="Олена", last_name="Коваленко")
    address_add(customer_id=unrelated.pk, line1="Сихівська, 2", city="Львів", actor=owner)

    with django_assert_num_queries(5):
        page = selectors.customer_duplicates()
        shown = [
            (p.older.pk, p.newer.pk, p.same_phone, p.same_name_and_address) for p in page.pairs
        ]
        [(p.older.emails, p.newer.phones, list(p.newer.addresses.all())) for p in page.pairs]
    # Newest record first; postcodes match without spaces, streets whatever the case.
    assert shown == [
        (first.pk, namesake.pk, False, True),
        (first.pk, second.pk, False, True),
        (ua.pk, pl.pk, True, False),
    ]

    duplicate_dismiss(customer_id=second.pk, other_id=first.pk, actor=owner)
    customer_merge(survivor_id=ua.pk, duplicate_id=pl.pk, actor=owner)
    remaining = [(p.older.pk, p.newer.pk) for p in selectors.customer_duplicates().pairs]
    assert remaining == [(first.pk, namesake.pk)]


def test_duplicate_pages_never_repeat_or_skip(make_customer: MakeCustomer) -> None:
    for i in range(5):
        make_customer(first_name=f"Пара{i}", phones=[f"+380 50 000 00 0{i}"])
        make_customer(first_name=f"Pair{i}", phones=[f"+48 500 000 00{i}"])
    seen: list[tuple[int, int]] = []
    cursor = None
    while True:
        page = selectors.customer_duplicates(cursor=cursor, limit=2)
        seen.extend((p.older.pk, p.newer.pk) for p in page.pairs)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert len(seen) == 5 == len(set(seen))
    assert seen == sorted(seen, key=lambda pair: (pair[1], pair[0]), reverse=True)
