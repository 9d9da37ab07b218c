"""The pages: the segment editor's live count, a campaign from the form, the ladder, the card."""

from __future__ import annotations

import pytest
from django.test import Client

from procedo.marketing.models import Campaign, Segment
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services
from procedo.marketing.tests.conftest import Store

pytestmark = pytest.mark.django_db


def test_the_editor_counts_while_editing_and_names_a_bad_rule(
    store: Store, owner_client: Client
) -> None:
    assert owner_client.get("/marketing/segments/new/").status_code == 200
    rows = {
        "rules-count": "2",
        "match": "all",
        "rules-0-field": "country",
        "rules-0-op": "eq",
        "rules-0-value": "UA",
    }
    answer = owner_client.post("/marketing/segments/preview/", rows)
    assert answer.status_code == 200 and 'id="segment-count">5<' in answer.content.decode()
    rows |= {"rules-1-field": "orders_count", "rules-1-op": "gte", "rules-1-value": "2"}
    answer = owner_client.post("/marketing/segments/preview/", rows)
    assert 'id="segment-count">3<' in answer.content.decode()
    bad = owner_client.post("/marketing/segments/preview/", rows | {"rules-1-value": "lots"})
    assert "rules.1.value (orders_count)" in bad.content.decode()
    # Changing a row's field gives it that field's operators.
    again = owner_client.post("/marketing/segments/rules/", rows | {"rules-1-field": "rfm_group"})
    assert 'value="not_in"' in again.content.decode()

    saved = owner_client.post("/marketing/segments/new/", rows | {"name": "Regulars in UA"})
    segment = Segment.objects.get()
    assert saved.status_code == 302 and segment.rules[1]["value"] == "2"
    refused = owner_client.post(
        f"/marketing/segments/{segment.pk}/", rows | {"name": "X", "rules-1-field": "shoe_size"}
    )
    assert refused.status_code == 422 and "shoe_size" in refused.content.decode()
    assert Segment.objects.get().name == "Regulars in UA"
    page = owner_client.get("/marketing/segments/").content.decode()
    assert "Regulars in UA" in page


def test_the_card_shows_the_rfm_group_and_the_next_product(
    store: Store, owner_client: Client
) -> None:
    rfm_services.rfm_refresh()
    ladder_services.ladder_compute()
    card = owner_client.get(f"/customers/{store.customers['iryna'].pk}/").content.decode()
    assert 'id="customer-rfm"' in card and "Filter" in card
    ladder = owner_client.get("/marketing/ladder/").content.decode()
    assert "Kettle" in ladder and "Filter" in ladder
    refused = owner_client.post(
        "/marketing/ladder/set/",
        {"product": store.products["Kettle"].pk, "next_products": [store.products["Kettle"].pk]},
    )
    assert refused.status_code == 422 and "own next step" in refused.content.decode()
    assert not Campaign.objects.exists()
