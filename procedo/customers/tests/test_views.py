from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.customers.models import ConsentState, Customer, CustomerTag, Identity, Note, Tag
from procedo.customers.registry import CardSection, card_section_register
from procedo.customers.services.details import note_add, tag_add
from procedo.customers.tests.conftest import orders_set
from procedo.events.models import Event

pytestmark = pytest.mark.django_db

MakeCustomer = Callable[..., Customer]
HTMX = {"HX-Request": "true"}


@pytest.fixture
def olena(make_customer: MakeCustomer) -> Customer:
    customer = make_customer(
        first_name="Олена",
        last_name="Коваленко",
        emails=["olena@example.com"],
        phones=["067 123 45 67"],
    )
    orders_set(customer, count=2, value="1234.50")
    return customer


def test_owner_sees_list_card_duplicates_and_forms(owner_client: Client, olena: Customer) -> None:
    page = owner_client.get(reverse("customers:list"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "Олена Коваленко" in html and "+380 67 123 4567" in html
    assert "1\u202f234.50\u00a0₴" in html  # the money filter, in the business currency
    assert 'href="/customers/"' in html  # the nav entry

    card = owner_client.get(reverse("customers:card", args=[olena.pk]))
    assert card.status_code == 200
    html = card.content.decode()
    assert "olena@example.com" in html and "1\u202f234.50\u00a0₴" in html
    assert "617.25\u00a0₴" in html  # average order
    assert "added the customer" in html  # the timeline

    for name in ("duplicates", "create", "merge"):
        assert owner_client.get(reverse(f"customers:{name}")).status_code == 200


def test_htmx_search_answers_the_results_part_only(
    owner_client: Client, olena: Customer, make_customer: MakeCustomer
) -> None:
    make_customer(first_name="Тарас")
    response = owner_client.get(reverse("customers:list"), {"q": "067 123 45"}, headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200 and "<html" not in html
    assert 'id="results"' in html and "Олена" in html and "Тарас" not in html


def test_next_page_follows_the_cursor_without_repeating(
    owner_client: Client, make_customer: MakeCustomer
) -> None:
    for i in range(55):
        make_customer(first_name=f"Клієнт{i:02d}")
    first = owner_client.get(reverse("customers:list"), {"country": ""})
    html = first.content.decode()
    assert html.count("Клієнт") == 50 and 'id="more-row"' in html
    cursor = first.context["page"].next_cursor
    more = owner_client.get(
        reverse("customers:list"), {"cursor": cursor}, headers={**HTMX, "HX-Target": "more-row"}
    )
    rows = more.content.decode()
    assert "<table" not in rows and rows.count("Клієнт") == 5
    assert "Клієнт04" in rows and "Клієнт05" not in rows


def test_filter_errors_answer_422_with_the_field(owner_client: Client, olena: Customer) -> None:
    response = owner_client.get(reverse("customers:list"), {"country": "ZZ"})
    assert response.status_code == 422 and "ISO country code" in response.content.decode()


def test_a_viewer_can_look_but_not_change(viewer_client: Client, olena: Customer) -> None:
    assert viewer_client.get(reverse("customers:card", args=[olena.pk])).status_code == 200
    before = (Event.objects.count(), Note.objects.count(), CustomerTag.objects.count())
    attempts = [
        (reverse("customers:tag_add", args=[olena.pk]), {"tag": "VIP"}),
        (reverse("customers:note_add", args=[olena.pk]), {"body": "x", "form_token": uuid.uuid4()}),
        (reverse("customers:create"), {"first_name": "Хтось", "form_token": uuid.uuid4()}),
        (reverse("customers:merge"), {"survivor_id": olena.pk, "duplicate_id": olena.pk}),
        (reverse("customers:update", args=[olena.pk]), {"first_name": "Інша"}),
    ]
    for url, data in attempts:
        response = viewer_client.post(url, data, headers=HTMX)
        assert response.status_code == 403, url
        assert b"customers.change" in response.content
    assert (Event.objects.count(), Note.objects.count(), CustomerTag.objects.count()) == before
    olena.refresh_from_db()
    assert olena.first_name == "Олена"


def test_create_form_refuses_bad_input_with_422_and_creates_with_a_redirect(
    owner_client: Client, olena: Customer
) -> None:
    url = reverse("customers:create")
    bad = owner_client.post(url, {"first_name": "Ірина", "phone": "12", "form_token": uuid.uuid4()})
    assert bad.status_code == 422 and "not a valid phone number" in bad.content.decode()
    taken = owner_client.post(
        url, {"first_name": "Ірина", "email": "OLENA@example.com", "form_token": uuid.uuid4()}
    )
    assert taken.status_code == 422 and f"#{olena.pk}" in taken.content.decode()
    token = uuid.uuid4()
    for _ in range(2):  # a resubmitted form creates once
        good = owner_client.post(
            url, {"first_name": "Ірина", "phone": "(050)1112233", "form_token": token}
        )
        assert good.status_code == 302
    created = Customer.objects.get(first_name="Ірина")
    assert good["Location"] == reverse("customers:card", args=[created.pk])
    assert Identity.objects.get(customer=created).value == "+380501112233"


def test_card_parts_change_through_htmx(owner_client: Client, olena: Customer) -> None:
    tag = owner_client.post(
        reverse("customers:tag_add", args=[olena.pk]), {"tag": "Опт"}, headers=HTMX
    )
    assert tag.status_code == 200 and 'id="tags"' in tag.content.decode()
    assert "Опт" in tag.content.decode() and "<html" not in tag.content.decode()
    removed = owner_client.post(
        reverse("customers:tag_remove", args=[olena.pk]), {"tag": "ОПТ"}, headers=HTMX
    )
    assert removed.status_code == 200 and not CustomerTag.objects.exists()
    unknown = owner_client.post(
        reverse("customers:tag_remove", args=[olena.pk]), {"tag": "нема"}, headers=HTMX
    )
    assert unknown.status_code == 422 and "There is no tag" in unknown.content.decode()

    token = uuid.uuid4()
    for _ in range(2):
        note = owner_client.post(
            reverse("customers:note_add", args=[olena.pk]),
            {"body": "Просила дзвонити після 18:00", "form_token": token},
            headers=HTMX,
        )
        assert note.status_code == 200 and "Просила дзвонити" in note.content.decode()
    assert Note.objects.count() == 1
    empty = owner_client.post(
        reverse("customers:note_add", args=[olena.pk]),
        {"body": " ", "form_token": uuid.uuid4()},
        headers=HTMX,
    )
    assert empty.status_code == 422

    email = Identity.objects.get(kind="email")
    consent = owner_client.post(
        reverse("customers:consent_set", args=[olena.pk, email.pk]),
        {"state": "denied", "source": "відписалась"},
        headers=HTMX,
    )
    assert consent.status_code == 200 and 'id="identities"' in consent.content.decode()
    email.refresh_from_db()
    assert (email.marketing_consent, email.consent_source) == (ConsentState.DENIED, "відписалась")

    added = owner_client.post(
        reverse("customers:identity_add", args=[olena.pk]),
        {"kind": "phone", "value": "050 1", "marketing_consent": "unknown"},
        headers=HTMX,
    )
    assert added.status_code == 422 and "not a valid phone number" in added.content.decode()

    address = owner_client.post(
        reverse("customers:address_add", args=[olena.pk]),
        {"kind": "shipping", "line1": "Хрещатик, 1", "city": "Київ", "form_token": uuid.uuid4()},
        headers=HTMX,
    )
    assert address.status_code == 200 and "Хрещатик, 1" in address.content.decode()


def test_a_plain_post_from_the_card_redirects_back(owner_client: Client, olena: Customer) -> None:
    response = owner_client.post(reverse("customers:tag_add", args=[olena.pk]), {"tag": "VIP"})
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:card", args=[olena.pk])
    assert Tag.objects.get().name == "VIP"


def test_times_show_in_the_business_time_zone(owner_client: Client, olena: Customer) -> None:
    note = note_add(customer_id=olena.pk, body="Зимова нотатка", actor=None)
    Note.objects.filter(pk=note.pk).update(created_at=datetime(2026, 1, 15, 10, 0, tzinfo=UTC))
    html = owner_client.get(reverse("customers:card", args=[olena.pk])).content.decode()
    assert "15 Jan 2026, 12:00" in html  # Europe/Kyiv, UTC+2 in winter


def test_older_timeline_rows_come_by_htmx(owner_client: Client, olena: Customer) -> None:
    for i in range(30):
        tag_add(customer_id=olena.pk, name=f"t{i}", actor=None)
    card = owner_client.get(reverse("customers:card", args=[olena.pk])).content.decode()
    assert 'id="timeline-more"' in card
    before = Event.objects.filter(customer_id=olena.pk).order_by("id")[5].pk
    rows = owner_client.get(
        reverse("customers:timeline", args=[olena.pk]), {"before": before}, headers=HTMX
    ).content.decode()
    assert rows.count("<tr") == 5 and "added the customer" in rows


def test_card_sections_of_other_apps_show_when_allowed(
    owner_client: Client, viewer_client: Client, olena: Customer
) -> None:
    card_section_register(
        CardSection(
            key="test",
            title="Замовлення",
            template="customers/_summary.html",
            permission="accounts.manage",
            context=lambda customer_id: {
                "summary": {"customer": Customer.objects.get(pk=customer_id)},
                "currency": "UAH",
            },
        )
    )
    assert (
        "<h2>Замовлення</h2>"
        in owner_client.get(reverse("customers:card", args=[olena.pk])).content.decode()
    )
    assert (
        "Замовлення"
        not in viewer_client.get(reverse("customers:card", args=[olena.pk])).content.decode()
    )


def test_merge_through_the_pages(
    owner_client: Client, owner: User, make_customer: MakeCustomer
) -> None:
    older = make_customer(first_name="Марія", phones=["+380 50 123 4567"])
    newer = make_customer(first_name="Maria", phones=["+48 501 234 567"])
    duplicates = owner_client.get(reverse("customers:duplicates")).content.decode()
    assert "same phone" in duplicates and f"duplicate_id={newer.pk}" in duplicates

    compare = owner_client.get(
        reverse("customers:merge"), {"survivor_id": older.pk, "duplicate_id": newer.pk}
    )
    assert compare.status_code == 200 and "Maria" in compare.content.decode()
    itself = owner_client.post(
        reverse("customers:merge"), {"survivor_id": older.pk, "duplicate_id": older.pk}
    )
    assert itself.status_code == 422 and "cannot be merged with itself" in itself.content.decode()

    merged = owner_client.post(
        reverse("customers:merge"),
        {"survivor_id": older.pk, "duplicate_id": newer.pk},
        headers=HTMX,
    )
    assert merged.status_code == 200
    assert merged["HX-Redirect"] == reverse("customers:card", args=[older.pk])
    assert Customer.objects.get(pk=newer.pk).merged_into_id == older.pk
    assert Event.objects.get(event_type="customer.merged").actor_id == owner.pk
    # The retired record's card leads to the survivor.
    follow = owner_client.get(reverse("customers:card", args=[newer.pk]))
    assert follow.status_code == 302
    assert follow["Location"] == reverse("customers:card", args=[older.pk])


def test_not_a_duplicate_removes_the_pair(
    owner_client: Client, make_customer: MakeCustomer
) -> None:
    a = make_customer(first_name="Марія", phones=["+380 50 123 4567"])
    b = make_customer(first_name="Maria", phones=["+48 501 234 567"])
    response = owner_client.post(
        reverse("customers:duplicate_dismiss"),
        {"customer_id": b.pk, "other_id": a.pk},
        headers=HTMX,
    )
    assert response.status_code == 200 and response.content == b""
    assert (
        "No likely duplicates" in owner_client.get(reverse("customers:duplicates")).content.decode()
    )


def test_search_box_of_the_shell_finds_customers(owner_client: Client, olena: Customer) -> None:
    html = owner_client.get(reverse("home:search"), {"q": "ОЛЕНА"}).content.decode()
    assert reverse("customers:card", args=[olena.pk]) in html
