"""Segments compile to one query; RFM and the ladder are computed set-based, on both databases."""

from __future__ import annotations

from typing import Any

import pytest

from procedo.core.errors import DomainError
from procedo.events.models import Event
from procedo.marketing import selectors
from procedo.marketing.models import CustomerRfm, LadderStep, Segment
from procedo.marketing.services import ladder as ladder_services
from procedo.marketing.services import rfm as rfm_services
from procedo.marketing.services import segments as segments_services
from procedo.marketing.tests.conftest import Store

pytestmark = pytest.mark.django_db


def _names(rules: list[dict[str, Any]], match: str = "all") -> set[str]:
    from procedo.marketing.rules import rules_clean

    return {c.first_name for c in selectors.customers_matching(rules_clean(rules), match)}


def test_rules_choose_customers_by_fields_orders_products_and_consent(
    store: Store, django_assert_num_queries: Any
) -> None:
    kettle = str(store.products["Kettle"].pk)
    assert _names([{"field": "country", "op": "eq", "value": "UA"}]) == {
        "Олена",
        "Тарас",
        "Петро",
        "Марія",
        "Іван",
    }
    assert _names([{"field": "tags", "op": "has", "value": "vip"}]) == {"Тарас"}
    assert _names([{"field": "orders_count", "op": "gte", "value": "2"}]) == {
        "Олена",
        "Тарас",
        "Петро",
    }
    assert _names([{"field": "orders_in_period", "op": "gte", "value": "1", "days": 30}]) == {
        "Ірина",
        "Марія",
    }
    # Olena and Taras spent 1200 + 300 in their first 30 days, Olena 150 more within a year.
    assert _names([{"field": "spend_first_30_days", "op": "eq", "value": "1500"}]) == {
        "Олена",
        "Тарас",
    }
    assert _names([{"field": "spend_first_year", "op": "gt", "value": "1500"}]) == {"Олена"}
    assert _names([{"field": "last_order_at", "op": "older_than_days", "value": 300}]) == {"Петро"}
    assert _names(
        [
            {"field": "product_bought", "op": "has", "value": kettle},
            {"field": "email_consent", "op": "eq", "value": "granted"},
        ]
    ) == {"Олена", "Тарас", "Ірина"}
    assert _names(
        [
            {"field": "product_bought", "op": "has_not", "value": kettle},
            {"field": "country", "op": "eq", "value": "PL"},
        ],
        match="any",
    ) == {"Марія", "Іван", "Ірина"}
    from procedo.marketing.rules import rules_clean

    rules = rules_clean(
        [
            {"field": "spend_in_period", "op": "gt", "value": "100", "days": 365},
            {"field": "tags", "op": "has_not", "value": "vip"},
        ]
    )
    with django_assert_num_queries(2):  # the count and the sample, whatever the rules
        preview = selectors.customers_preview(rules, "all")
    assert preview.count == 3 and {c.first_name for c in preview.sample} == {
        "Олена",
        "Ірина",
        "Марія",
    }


def test_a_category_rule_asks_what_was_bought_in_one_query_over_a_period_or_ever(
    store: Store, django_assert_num_queries: Any
) -> None:
    from procedo.catalog.services import product_update
    from procedo.marketing.rules import rules_clean

    for name, category in (("Kettle", "Чайники"), ("Filter", "Догляд"), ("Descaler", "Догляд")):
        product_update(product_id=store.products[name].pk, category=f" {category} ", actor=None)
    care = {"field": "category_bought", "op": "has", "value": "Догляд"}
    assert _names([care]) == {"Олена", "Тарас", "Петро", "Марія"}
    assert _names([{**care, "days": 30}]) == {"Марія"}
    assert _names([{**care, "days": 250}]) == {"Олена", "Тарас", "Марія"}
    no_kettle = {"field": "category_bought", "op": "has_not", "value": "Чайники"}
    assert _names([no_kettle]) == {"Марія", "Іван"}
    # The product rule takes a period the same way.
    kettle = str(store.products["Kettle"].pk)
    assert _names([{"field": "product_bought", "op": "has", "value": kettle, "days": 100}]) == {
        "Ірина"
    }
    cleaned = rules_clean([{**care, "days": 250}, no_kettle])
    with django_assert_num_queries(2):  # the count and the sample: one statement each
        preview = selectors.customers_preview(cleaned, "any")
    assert preview.count == 4
    for rule, field in (
        ({**care, "value": "Іграшки"}, "rules.0.value"),
        ({**care, "days": "0"}, "rules.0.days"),
    ):
        with pytest.raises(DomainError) as caught:
            rules_clean([rule])
        assert caught.value.field == field


@pytest.mark.parametrize(
    ("rule", "field", "words"),
    [
        ({"field": "shoe_size", "op": "eq", "value": "42"}, "rules.0.field", "shoe_size"),
        ({"field": "orders_count", "op": "contains", "value": "2"}, "rules.0.op", "contains"),
        ({"field": "orders_count", "op": "gte", "value": "many"}, "rules.0.value", "orders_count"),
        ({"field": "rfm_group", "op": "eq", "value": "kings"}, "rules.0.value", "kings"),
        ({"field": "orders_in_period", "op": "gte", "value": "1"}, "rules.0.days", "days"),
        (
            {"field": "last_order_at", "op": "within_days", "value": "99999999"},
            "rules.0.value",
            "days",
        ),
    ],
)
def test_a_bad_rule_is_refused_naming_its_part_and_nothing_is_saved(
    db: None, rule: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(DomainError) as caught:
        segments_services.segment_create(name="Bad", match="all", rules_=[rule], actor=None)
    assert caught.value.field == field and words in caught.value.message
    assert (
        not Segment.objects.exists()
        and not Event.objects.filter(event_type="segment.created").exists()
    )


def test_rfm_scores_everyone_with_an_order_in_one_pass_and_rewrites_only_what_moved(
    store: Store,
) -> None:
    result = rfm_services.rfm_refresh()
    assert result["scored"] == 5 and result["changed"] == 5 and result["moved"] == 0
    rfm = {r.customer.first_name: r for r in CustomerRfm.objects.select_related("customer")}
    assert set(rfm) == {"Олена", "Тарас", "Ірина", "Петро", "Марія"}
    # Most recent buyer has the top recency; the three-order customer the top frequency.
    assert rfm["Марія"].r == 5 and rfm["Петро"].r == 1
    assert rfm["Олена"].f == max(r.f for r in rfm.values())
    # Equal order counts share a tile: Iryna and Maria both bought once.
    assert rfm["Ірина"].f == rfm["Марія"].f
    assert rfm["Марія"].group == "new" and rfm["Петро"].group in ("hibernating", "lost", "at_risk")
    again = rfm_services.rfm_refresh()
    assert again["changed"] == 0 and again["scored"] == 5
    # Segments can ask for the group.
    assert _names([{"field": "rfm_group", "op": "in", "value": ["new"]}]) == {"Марія"}


def test_a_refresh_records_one_event_per_customer_it_moves_to_another_group(
    store: Store,
) -> None:
    from procedo.automation.models import Run
    from procedo.automation.tests.helpers import engine_drain, event_trigger, sop_live, task_step

    # "Customer became at risk": the trigger the SOP editor offers, with its condition.
    at_risk = event_trigger(
        "rfm.group_changed", rules=[{"field": "event.to_group", "op": "eq", "value": "at_risk"}]
    )
    sop, _revision = sop_live(
        definition={"triggers": [at_risk], "steps": [task_step("call")]}, subject_type="customer"
    )
    rfm_services.rfm_refresh()
    assert not Event.objects.filter(event_type="rfm.group_changed").exists()  # first scores
    petro, taras = store.customers["petro"], store.customers["taras"]
    # Last week's scores put them elsewhere; today's history moves them back.
    CustomerRfm.objects.filter(customer=petro).update(r=4, group="loyal")
    CustomerRfm.objects.filter(customer=taras).update(f=1, group="hibernating")
    result = rfm_services.rfm_refresh()
    moves = Event.objects.filter(event_type="rfm.group_changed").order_by("subject_id")
    assert result["moved"] == 2 and sorted(
        (
            e.subject_type,
            e.subject_id,
            e.customer_id,
            e.payload["from_group"],
            e.payload["to_group"],
        )
        for e in moves
    ) == sorted(
        [
            ("customer", petro.pk, petro.pk, "loyal", "at_risk"),
            ("customer", taras.pk, taras.pk, "hibernating", "need_attention"),
        ]
    )
    rfm = CustomerRfm.objects.get(customer=petro)
    assert rfm.previous_group == "loyal" and rfm.group_since == rfm.computed_at
    assert rfm_services.rfm_refresh()["moved"] == 0
    assert moves.count() == 2
    engine_drain()
    runs = Run.objects.filter(sop=sop).values_list("subject_type", "subject_id")
    assert list(runs) == [("customer", petro.pk)]


def test_the_ladder_pairs_consecutive_orders_with_the_median_days_between(store: Store) -> None:
    written = ladder_services.ladder_compute()
    kettle, filter_, descaler = (store.products[n] for n in ("Kettle", "Filter", "Descaler"))
    steps = {(s.product_id, s.next_product_id): s for s in LadderStep.objects.filter(manual=False)}
    assert written == len(steps) == 3
    first = steps[(kettle.pk, filter_.pk)]
    assert first.customers == 2 and first.median_days == 25 and first.position == 1
    assert steps[(kettle.pk, descaler.pk)].position == 2
    assert steps[(filter_.pk, descaler.pk)].median_days == 35
    # Iryna bought the kettle last and no filter yet: the filter is her next product.
    iryna = store.customers["iryna"]
    offer = selectors.next_product_of_customer(iryna.pk)
    assert offer is not None and offer.next_product == filter_
    # A manager's ladder replaces the computed one.
    ladder_services.ladder_set(product_id=kettle.pk, next_product_ids=[descaler.pk], actor=None)
    assert [s.next_product for s in selectors.ladder_of(kettle.pk)] == [descaler]
    offer = selectors.next_product_of_customer(iryna.pk)
    assert offer is not None and offer.next_product == descaler
    with pytest.raises(DomainError) as caught:
        ladder_services.ladder_set(product_id=kettle.pk, next_product_ids=[kettle.pk], actor=None)
    assert caught.value.field == "next_product_ids"


def test_an_sop_condition_asks_the_segment_and_the_rfm_group_of_a_customer_or_an_order(
    store: Store,
) -> None:
    from django.utils import timezone

    from procedo.orders.models import Order
    from procedo.sops import subjects

    segment = segments_services.segment_create(
        name="Kettle owners",
        match="all",
        rules_=[
            {"field": "product_bought", "op": "has", "value": str(store.products["Kettle"].pk)}
        ],
        actor=None,
    )
    rfm_services.rfm_refresh()
    customer, order = subjects.SUBJECTS["customer"], subjects.SUBJECTS["order"]
    now = timezone.now()
    spec = customer.fields["segment"]
    value = subjects.value_clean(spec, "in_segment", str(segment.pk))
    inside = customer.queryset().filter(subjects.rule_q(spec, "in_segment", value, now=now))
    assert {c.first_name for c in inside} == {"Олена", "Тарас", "Ірина", "Петро"}
    outside = customer.queryset().filter(subjects.rule_q(spec, "not_in_segment", value, now=now))
    assert {c.first_name for c in outside} == {"Марія", "Іван"}
    by_order = order.fields["customer.segment"]
    orders = Order.objects.filter(subjects.rule_q(by_order, "not_in_segment", value, now=now))
    assert {str(o.customer) for o in orders} == {"Марія"}
    group = order.fields["customer.rfm_group"]
    new = Order.objects.filter(subjects.rule_q(group, "eq", "new", now=now))
    assert {str(o.customer) for o in new} == {"Марія"}
    with pytest.raises(subjects.BadValue):
        subjects.value_clean(spec, "in_segment", "999999")
