"""Referral rewards are credited once to each side and used once on the customer's own order."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from procedo.accounts.roles import Role
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.core.errors import Conflict, DomainError
from procedo.core.models import IdempotencyKey
from procedo.customers.models import Customer
from procedo.events.models import Event
from procedo.loyalty import selectors
from procedo.loyalty.models import Reward
from procedo.loyalty.services.programme import program_update
from procedo.loyalty.services.referrals import referral_code_issue
from procedo.loyalty.services.rewards import reward_redeem, rewards_credit, rewards_credit_missing
from procedo.orders.models import Order
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import api_caller, person

pytestmark = pytest.mark.django_db


def _sale(customer: Customer, price: str, **extra: Any) -> Order:
    return order_create(
        (sku_create(price=price, on_hand=10), 1),
        customer=customer,
        placed_at=timezone.now() - timedelta(hours=1),
        **extra,
    )


@pytest.fixture
def referral() -> tuple[Customer, Customer, Order]:
    """Anna referred Bohdan: she is owed 200 ₴ of credit, he 10% off."""
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)
    program_update(
        actor=None,
        friend_reward_kind="percent",
        friend_reward_value="10",
        referrer_reward_kind="credit",
        referrer_reward_value="200",
    )
    anna, bohdan = customer_create("Анна"), customer_create("Богдан")
    code = referral_code_issue(customer_id=anna.pk, actor=None).code
    first = _sale(bohdan, "500.00", source=f"ref:{code}", status="delivered")
    return anna, bohdan, first


def _rewards() -> list[tuple[int, str, str, Decimal]]:
    return [
        (r.customer_id, r.earned_for, r.kind, r.value)
        for r in Reward.objects.order_by("customer_id")
    ]


def test_each_side_of_a_referral_is_credited_once(
    referral: tuple[Customer, Customer, Order],
) -> None:
    anna, bohdan, _first = referral
    assert _rewards() == [
        (anna.pk, "referring", "credit", Decimal("200.00")),
        (bohdan.pk, "referred", "percent", Decimal("10.00")),
    ]
    # The nightly catch-up and a repeat find them credited: nothing twice.
    assert rewards_credit_missing() == 0
    conversion = Reward.objects.first().conversion  # type: ignore[union-attr]
    first = set(Reward.objects.values_list("pk", flat=True))
    # A retry within the key's day replays; after it the (referral, side) row answers.
    assert {r.pk for r in rewards_credit(conversion=conversion)} == first
    IdempotencyKey.objects.all().delete()
    assert {r.pk for r in rewards_credit(conversion=conversion)} == first
    assert len(_rewards()) == 2
    assert Event.objects.filter(event_type="reward.credited").count() == 2
    card = selectors.loyalty_card(customer_id=anna.pk)
    [credited] = card.credited
    assert credited.unused and credited.friend == bohdan and "200" in credited.words


def test_a_reward_lowers_the_customers_order_once_and_bad_uses_change_nothing(
    referral: tuple[Customer, Customer, Order],
) -> None:
    anna, bohdan, first = referral
    credit = Reward.objects.get(customer=anna)
    percent = Reward.objects.get(customer=bohdan)
    small = _sale(anna, "150.00")  # the credit is more than its goods
    with pytest.raises(DomainError) as refused:
        reward_redeem(reward_id=credit.pk, order_id=small.pk, actor=None, idempotency_key=None)
    assert refused.value.field == "amount"
    with pytest.raises(DomainError) as refused:  # another customer's order
        reward_redeem(reward_id=credit.pk, order_id=first.pk, actor=None, idempotency_key=None)
    assert refused.value.field == "order_id"
    with pytest.raises(Conflict) as refused:  # delivered: its total is settled
        reward_redeem(reward_id=percent.pk, order_id=first.pk, actor=None, idempotency_key=None)
    assert refused.value.field == "status"
    small.refresh_from_db()
    credit.refresh_from_db()
    assert small.total == Decimal("150.00") and credit.order_id is None
    assert not Event.objects.filter(event_type__in=["reward.redeemed", "order.discount_added"])

    order = _sale(anna, "1000.00")
    for _twice in range(2):  # a double click: the same key answers as the first time
        used = reward_redeem(
            reward_id=credit.pk, order_id=order.pk, actor=None, idempotency_key="ui:k1"
        )
    order.refresh_from_db()
    assert (used.order_id, used.amount, order.total) == (
        order.pk,
        Decimal("200.00"),
        Decimal("800.00"),
    )
    with pytest.raises(Conflict) as refused:  # used already: on no other order
        reward_redeem(reward_id=credit.pk, order_id=order.pk, actor=None, idempotency_key="ui:k2")
    assert refused.value.field == "reward_id" and order.number in refused.value.message
    order.refresh_from_db()
    assert order.total == Decimal("800.00")
    assert Event.objects.filter(event_type="reward.redeemed").count() == 1

    # A percent takes its share of the goods left.
    second = _sale(bohdan, "300.00")
    reward_redeem(reward_id=percent.pk, order_id=second.pk, actor=None, idempotency_key=None)
    second.refresh_from_db()
    assert (second.total, second.discount_total) == (Decimal("270.00"), Decimal("30.00"))


def test_the_card_and_the_api_show_the_reward_and_use_it_on_an_order(
    referral: tuple[Customer, Customer, Order], owner_client: Client
) -> None:
    anna, bohdan, _first = referral
    credit = Reward.objects.get(customer=anna)
    order = _sale(anna, "1000.00")
    card = owner_client.get(reverse("customers:card", args=[anna.pk])).content.decode()
    assert 'id="customer-rewards"' in card and "reward-redeem" in card
    token = "0b7d3c2e-1111-4a4a-9b9b-123456789abc"
    url = reverse("loyalty:reward-redeem", args=[credit.pk])
    answer = owner_client.post(url, {"order": f"#{order.number}", "form_token": token})
    assert answer.status_code == 302
    order.refresh_from_db()
    assert order.total == Decimal("800.00")
    card = owner_client.get(reverse("customers:card", args=[anna.pk])).content.decode()
    assert order.number in card and "reward-redeem" not in card

    # The API twin: the reward on the customer's standing, and its use.
    manager = api_caller(person(Role.MANAGER))
    [mine] = manager("get", f"/loyalty/customers/{bohdan.pk}").json()["rewards"]
    assert (mine["kind"], mine["friend_id"], mine["order_id"]) == ("percent", anna.pk, None)
    theirs = _sale(anna, "100.00")
    refused = manager("post", f"/loyalty/rewards/{mine['id']}/redeem", {"order_id": theirs.pk})
    assert (refused.status_code, refused.json()["field"]) == (422, "order_id")
    own = _sale(bohdan, "100.00")
    used = manager("post", f"/loyalty/rewards/{mine['id']}/redeem", {"order_id": own.pk})
    assert used.status_code == 200 and used.json()["amount"] == "10.00"
    again = manager("post", f"/loyalty/rewards/{mine['id']}/redeem", {"order_id": own.pk})
    assert (again.status_code, again.json()["field"]) == (409, "reward_id")
