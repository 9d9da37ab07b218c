"""Tiers, membership and referrals on a small hand-made history, checked against plain Python."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from procedo.automation.models import Run
from procedo.automation.tests.helpers import engine_drain, sop_live
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import Conflict, DomainError
from procedo.customers.models import Customer
from procedo.customers.services.merging import customer_merge
from procedo.events.models import Event
from procedo.loyalty import selectors
from procedo.loyalty.codes import ALPHABET, LENGTH, code_normalise
from procedo.loyalty.models import CustomerLoyalty, ReferralConversion, Tier
from procedo.loyalty.services.membership import (
    loyalty_consume,
    membership_enter,
    memberships_enter_missing,
)
from procedo.loyalty.services.programme import (
    TierIn,
    program_update,
    tier_changes,
    tiers_recompute,
    tiers_set,
)
from procedo.loyalty.services.referrals import referral_attribute, referral_code_issue
from procedo.orders.models import Order
from procedo.orders.services import lines as line_services
from procedo.orders.services import taking as taking_services
from procedo.orders.tests.factories import customer_create, move, order_create
from procedo.sops.library import LIBRARY
from procedo.sops.subjects import SUBJECTS, rule_q
from procedo.testing import consumer_catch_up

pytestmark = pytest.mark.django_db

TIERS = [
    TierIn(code="bronze", name="Bronze", min_spend="1000"),
    TierIn(code="silver", name="Silver", min_spend="5000", benefits="Free delivery"),
    TierIn(code="gold", name="Gold", min_spend="20000", benefits="−10% on everything"),
]


@pytest.fixture(autouse=True)
def store() -> None:
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)


def _sale(customer: Customer | None, price: str, days_ago: int = 1, **extra: Any) -> Order:
    status = extra.pop("status", "delivered")
    return order_create(
        (sku_create(price=price, on_hand=10), 1),
        customer=customer,
        placed_at=timezone.now() - timedelta(days=days_ago),
        status=status,
        **extra,
    )


def _consume() -> None:
    consumer_catch_up(name="loyalty.orders", handler=loyalty_consume)


def _events(kind: str) -> list[tuple[int | None, dict[str, Any]]]:
    return [
        (e.customer_id, e.payload) for e in Event.objects.filter(event_type=kind).order_by("id")
    ]


def _tier_of(customer: Customer) -> str | None:
    row = CustomerLoyalty.objects.select_related("tier").filter(customer=customer).first()
    return row.tier.code if row and row.tier else None


def test_tiers_follow_the_spend_in_the_window_as_plain_python_counts_it(
    django_assert_num_queries: Any,
) -> None:
    program_update(actor=None, window_days=365)
    tiers_set(tiers=TIERS, actor=None)
    people = {name: customer_create(name) for name in ("Анна", "Богдан", "Віра", "Галина")}
    # (who, price, days ago, final status): outside the window, cancelled and returned sales
    # count for nothing.
    history = [
        ("Анна", "800.00", 10, "delivered"),
        ("Анна", "300.50", 200, "delivered"),
        ("Анна", "9000.00", 400, "delivered"),
        ("Богдан", "5000.00", 30, "delivered"),
        ("Богдан", "6000.00", 31, "cancelled"),
        ("Віра", "15000.00", 5, "delivered"),
        ("Віра", "5000.00", 6, "new"),
        ("Віра", "7000.00", 7, "returned"),
        ("Галина", "999.99", 3, "delivered"),
    ]
    for who, price, days, status in history:
        order = _sale(people[who], price, days, status="new" if status == "cancelled" else status)
        if status == "cancelled":
            move(order, "cancelled")
    # The window and the currency, then one statement for every customer.
    with django_assert_num_queries(3):
        changes = tier_changes()
    assert len(changes) == 3
    assert tiers_recompute() == 3

    spend = {who: Decimal(0) for who in people}
    for who, price, days, status in history:
        if days <= 365 and status not in ("cancelled", "returned"):
            spend[who] += Decimal(price)
    thresholds = sorted(((Decimal(str(t.min_spend)), t.code) for t in TIERS), reverse=True)
    expected = {
        who: next((code for floor, code in thresholds if spend[who] >= floor), None)
        for who in people
    }
    assert expected == {"Анна": "bronze", "Богдан": "silver", "Віра": "gold", "Галина": None}
    assert {who: _tier_of(c) for who, c in people.items()} == expected
    upgraded = {cid: p["to"] for cid, p in _events("loyalty.tier_upgraded")}
    assert upgraded == {people[w].pk: code for w, code in expected.items() if code}

    # A recompute with nothing new changes nothing and records nothing.
    assert tiers_recompute() == 0
    # Bohdan returns his sale: the order's event brings him down on its own.
    move(Order.objects.get(customer=people["Богдан"], status__code="delivered"), "returned")
    _consume()
    assert _tier_of(people["Богдан"]) is None
    assert [(cid, p["from"], p["to"]) for cid, p in _events("loyalty.tier_downgraded")] == [
        (people["Богдан"].pk, "silver", "")
    ]


def test_overlapping_or_unordered_thresholds_are_refused_naming_the_field() -> None:
    tiers_set(tiers=TIERS, actor=None)
    before = list(Tier.objects.values_list("code", "min_spend"))
    events = Event.objects.count()
    bad = [
        ([TIERS[0], TierIn("silver", "Silver", "1000")], "tiers.1.min_spend", "overlapping"),
        ([TIERS[1], TierIn("bronze", "Bronze", "1000")], "tiers.1.min_spend", "unordered"),
        ([TIERS[0], TierIn("bronze", "Again", "2000")], "tiers.1.code", "invalid"),
        ([TierIn("x", "X", "-5")], "tiers.0.min_spend", "invalid"),
    ]
    for tiers, field, code in bad:
        with pytest.raises(DomainError) as refused:
            tiers_set(tiers=tiers, actor=None)
        assert (refused.value.field, refused.value.code) == (field, code)
    assert list(Tier.objects.values_list("code", "min_spend")) == before
    assert Event.objects.count() == events
    # Two tiers may swap names and thresholds in one go (the UNIQUE threshold never collides).
    tiers_set(
        tiers=[TierIn("silver", "Silver", "1000"), TierIn("bronze", "Bronze", "5000")], actor=None
    )
    assert list(Tier.objects.values_list("code", "min_spend")) == [
        ("silver", Decimal("1000.00")),
        ("bronze", Decimal("5000.00")),
    ]


def test_the_first_purchase_makes_a_member_once_with_a_referral_code() -> None:
    program_update(
        actor=None,
        membership_name="Клуб друзів",
        membership_benefits="Подарунок на день народження",
    )
    olena = customer_create("Олена")
    _sale(olena, "0.00", 1)  # a free sample is not a purchase
    _consume()
    assert not CustomerLoyalty.objects.filter(customer=olena, member_since__isnull=False).exists()
    _sale(olena, "250.00", 1)
    _sale(olena, "300.00", 1)
    _consume()
    assert membership_enter(customer_id=olena.pk) is False  # already a member
    assert [cid for cid, _p in _events("loyalty.membership_entered")] == [olena.pk]
    card = selectors.loyalty_card(customer_id=olena.pk)
    assert card.member_since is not None and card.membership_name == "Клуб друзів"
    assert len(card.code) == LENGTH and set(card.code) <= set(ALPHABET)
    assert [cid for cid, _p in _events("loyalty.referral_code_issued")] == [olena.pk]
    # A buyer whose order event was never heard (history from before the programme) enters
    # with the nightly sweep; a customer who never bought does not.
    petro, _nobody = customer_create("Петро"), customer_create("Ніхто")
    _sale(petro, "90.00", 400)
    assert memberships_enter_missing() == 1
    assert memberships_enter_missing() == 0


def test_a_referral_is_attributed_by_code_in_any_case_and_an_own_code_is_refused() -> None:
    program_update(
        actor=None,
        friend_reward_kind="percent",
        friend_reward_value="10",
        referrer_reward_kind="credit",
        referrer_reward_value="200",
        link_base="https://shop.example/",
    )
    anna, bohdan, vira = customer_create("Анна"), customer_create("Богдан"), customer_create("Віра")
    code = referral_code_issue(customer_id=anna.pk, actor=None).code
    assert code_normalise(f" {code[:4].lower()}-{code[4:]} ") == code
    assert selectors.referral_link(code) == f"https://shop.example/?ref={code}"

    orders_before = Order.objects.count()
    with pytest.raises(DomainError) as refused:
        _sale(anna, "100.00", source=f"ref:{code.lower()}")
    assert (refused.value.field, refused.value.code) == ("source", "own_code")
    with pytest.raises(DomainError) as unknown:
        _sale(bohdan, "100.00", source="ref:ZZZZZZZZ")
    assert unknown.value.field == "source"
    assert Order.objects.count() == orders_before
    assert not Event.objects.filter(event_type="referral.converted").exists()

    order = _sale(bohdan, "100.00", source=f"instagram ?ref={code.lower()}")
    conversion = ReferralConversion.objects.get()
    assert (conversion.order_id, conversion.referrer_id, conversion.referred_id) == (
        order.pk,
        anna.pk,
        bohdan.pk,
    )
    [(who, payload)] = _events("referral.converted")
    assert who == anna.pk and payload["order"] == order.number
    assert payload["friend_reward"] == {"kind": "percent", "value": "10.00"}
    assert payload["referrer_reward"] == {"kind": "credit", "value": "200.00"}

    # Typed on an order afterwards: the owner's own order is refused, a second referral too.
    own = _sale(anna, "50.00")
    with pytest.raises(DomainError) as refused:
        referral_attribute(order_id=own.pk, code=code, actor=None, idempotency_key=None)
    assert refused.value.field == "code"
    again = _sale(bohdan, "70.00")
    with pytest.raises(Conflict):
        referral_attribute(order_id=again.pk, code=code, actor=None, idempotency_key=None)
    vira_order = _sale(vira, "80.00")
    referral_attribute(order_id=vira_order.pk, code=code.lower(), actor=None, idempotency_key="k1")
    referral_attribute(order_id=vira_order.pk, code=code.lower(), actor=None, idempotency_key="k1")
    assert ReferralConversion.objects.count() == 2
    card = selectors.loyalty_card(customer_id=anna.pk)
    assert (card.referrals_this_year, card.goal_reached) == (2, True)
    assert selectors.loyalty_card(customer_id=bohdan.pk).referred_by == anna

    # Merging Anna's duplicate into Bohdan would make Bohdan his own referrer: that goes.
    customer_merge(survivor_id=bohdan.pk, duplicate_id=anna.pk, actor=None)
    assert not ReferralConversion.objects.filter(referrer_id=bohdan.pk, referred_id=bohdan.pk)
    assert selectors.loyalty_card(customer_id=bohdan.pk).code == code


def test_referral_numbers_match_plain_python_over_two_years(
    django_assert_num_queries: Any,
) -> None:
    year = timezone.localdate().year
    people = [customer_create(f"Клієнт {n}") for n in range(8)]
    for person in people[:7]:
        _sale(person, "100.00", 1)
    codes = {p.pk: referral_code_issue(customer_id=p.pk, actor=None) for p in people}
    # (referrer index, referred index, year): 0 refers three this year, 1 one this year and one
    # the year before, 2 only the year before.
    plan = [
        (0, 3, year),
        (0, 4, year),
        (0, 5, year),
        (1, 6, year),
        (1, 7, year - 1),
        (2, 1, year - 1),
    ]
    for referrer, referred, when in plan:
        order = _sale(people[referred], "50.00", 1)
        conversion = referral_attribute(
            order_id=order.pk,
            code=codes[people[referrer].pk].code,
            actor=None,
            idempotency_key=None,
        )
        ReferralConversion.objects.filter(pk=conversion.pk).update(
            converted_at=datetime(when, 6, 1, 12, tzinfo=timezone.get_current_timezone())
        )

    this_year = [(r, d) for r, d, when in plan if when == year]
    per_referrer = Counter(r for r, _d in this_year)
    buyers = len({i for i in range(8)})  # everyone bought by now (the referred too)
    # The business's zone and currency, then two statements.
    with django_assert_num_queries(4):
        numbers = selectors.referral_numbers(year=year)
    assert numbers.referred == len({d for _r, d in this_year}) == 4
    assert numbers.buyers == buyers
    assert numbers.referrers == len(per_referrer) == 2
    assert numbers.repeat_referrers == sum(1 for n in per_referrer.values() if n >= 2) == 1
    assert numbers.reached_goal == 1
    assert numbers.referring_share == Decimal("25.0")
    assert numbers.again_share == Decimal("50.0")
    progress = selectors.referral_progress(customer_ids=[p.pk for p in people], year=year)
    assert progress == {people[r].pk: n for r, n in per_referrer.items()}
    last_year = selectors.referral_numbers(year=year - 1)
    assert (last_year.referred, last_year.referrers, last_year.repeat_referrers) == (2, 2, 0)


def test_an_sop_condition_asks_the_tier_and_the_membership() -> None:
    tiers_set(tiers=TIERS, actor=None)
    gold, nobody = customer_create("Злата"), customer_create("Ніхто")
    _sale(gold, "25000.00", 2)
    _consume()
    subject = SUBJECTS["customer"]
    now = timezone.now()
    tier_q = rule_q(subject.fields["loyalty_tier"], "eq", "gold", now=now)
    member_q = rule_q(subject.fields["loyalty_member"], "is_true", None, now=now)
    assert list(subject.queryset().filter(tier_q).values_list("pk", flat=True)) == [gold.pk]
    assert list(subject.queryset().filter(member_q).values_list("pk", flat=True)) == [gold.pk]
    assert nobody.pk not in subject.queryset().filter(tier_q | member_q).values_list(
        "pk", flat=True
    )


def test_order_create_rolls_back_whole_when_the_hook_refuses() -> None:
    """The hook runs in the order's transaction: stock reserved for it is released too."""
    anna = customer_create("Анна")
    code = referral_code_issue(customer_id=anna.pk, actor=None).code
    sku = sku_create(price="10.00", on_hand=5)
    with pytest.raises(DomainError):
        taking_services.order_create(
            lines=[line_services.OrderLineIn(sku_id=sku.pk, quantity=2)],
            customer_id=anna.pk,
            actor=None,
            idempotency_key=None,
            source=f"ref={code}",
        )
    sku.refresh_from_db()
    assert (sku.on_hand, sku.reserved) == (5, 0)


# Committed like the worker sees them: on PostgreSQL the engine and the loyalty consumer read
# up to the oldest open transaction, and this test's events must not wait behind its own.
@pytest.mark.django_db(transaction=True)
def test_a_tier_upgrade_starts_the_librarys_vip_reward_sop() -> None:
    entry = LIBRARY["loyalty_tier_reward"]
    sop, _revision = sop_live(definition=dict(entry.definition), subject_type="customer")
    tiers_set(tiers=TIERS, actor=None)
    zlata, quiet_one = customer_create("Злата"), customer_create("Тихон")
    _sale(zlata, "6000.00", 2)
    _sale(quiet_one, "10.00", 2)
    _consume()
    engine_drain()
    runs = Run.objects.filter(sop=sop).values_list("subject_type", "subject_id")
    assert list(runs) == [("customer", zlata.pk)]
