"""The API twins and the pages: the same rules, refusals naming the field, Ukrainian words."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from procedo.accounts.roles import Role
from procedo.business.services import business_update
from procedo.catalog.tests.factories import sku_create
from procedo.events.models import Event
from procedo.loyalty.models import ReferralConversion, Tier
from procedo.loyalty.services.membership import membership_enter
from procedo.loyalty.services.programme import TierIn, tiers_recompute, tiers_set
from procedo.messaging.services.composing import message_context
from procedo.orders.models import Order
from procedo.orders.tests.factories import customer_create, order_create
from procedo.testing import api_caller, logged_in, person

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def store() -> None:
    business_update(name="Чайна лавка", time_zone="Europe/Kyiv", currency="UAH", actor_id=None)


def test_the_api_sets_terms_and_tiers_attributes_referrals_and_refuses_naming_the_field() -> None:
    manager = api_caller(person(Role.MANAGER))
    operator = api_caller(person(Role.OPERATOR))
    answer = manager(
        "patch",
        "/loyalty/program",
        {
            "friend_reward_kind": "percent",
            "friend_reward_value": "10",
            "referrer_reward_kind": "credit",
            "referrer_reward_value": "150.50",
            "membership_name": "Клуб",
        },
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["friend_reward"] == "10% off the next order"
    refused = manager(
        "patch", "/loyalty/program", {"friend_reward_kind": "percent", "friend_reward_value": "120"}
    )
    assert (refused.status_code, refused.json()["field"]) == (422, "friend_reward_value")
    assert operator("patch", "/loyalty/program", {"window_days": 30}).status_code == 403

    tiers = [
        {"code": "silver", "name": "Срібний", "min_spend": "1000"},
        {"code": "gold", "name": "Золотий", "min_spend": "1000"},
    ]
    refused = manager("put", "/loyalty/tiers", {"tiers": tiers})
    assert (refused.status_code, refused.json()["field"], refused.json()["code"]) == (
        422,
        "tiers.1.min_spend",
        "overlapping",
    )
    assert not Tier.objects.exists()
    tiers[1]["min_spend"] = "5000"
    assert manager("put", "/loyalty/tiers", {"tiers": tiers}).status_code == 200

    anna, bohdan = customer_create("Анна"), customer_create("Богдан")
    order_create(customer=anna)
    issued = operator("post", f"/loyalty/customers/{anna.pk}/referral-code")
    code = issued.json()["referral_code"]
    assert issued.status_code == 200 and len(code) == 8
    own = order_create(customer=anna)
    refused = operator("post", "/loyalty/referrals", {"order_id": own.pk, "code": code.lower()})
    assert (refused.status_code, refused.json()["field"], refused.json()["code"]) == (
        422,
        "code",
        "own_code",
    )
    assert not ReferralConversion.objects.exists()
    friend = order_create(customer=bohdan)
    made = operator(
        "post",
        "/loyalty/referrals",
        {"order_id": friend.pk, "code": code},
        **{"Idempotency-Key": "a"},
    )
    assert made.status_code == 201 and made.json()["referrer_id"] == anna.pk

    numbers = operator("get", "/loyalty/referrals").json()
    assert (numbers["referred"], numbers["referrers"], numbers["top"][0]["code"]) == (1, 1, code)
    assert operator("get", "/loyalty/referrals", {"year": 1999}).status_code == 422
    card = operator("get", f"/loyalty/customers/{anna.pk}").json()
    assert (card["referrals_this_year"], card["referral_code"]) == (1, code)
    # A message to Anna can name her code and what a friend gets.
    variables = message_context(customer_id=anna.pk)["customer"]
    assert variables["referral_code"] == code
    assert variables["friend_reward"] == "10% off the next order"


def test_the_pages_in_ukrainian_with_the_card_section_and_refusals_beside_their_fields() -> None:
    tiers_set(
        tiers=[TierIn("silver", "Срібний", "100", benefits="Безкоштовна доставка")],
        actor=None,
    )
    olena = customer_create("Олена")
    order = order_create(customer=olena)
    tiers_recompute()
    membership_enter(customer_id=olena.pk)
    client = logged_in(person(Role.MANAGER))
    client.post("/i18n/setlang/", {"language": "uk", "next": "/"})
    card = client.get(f"/customers/{olena.pk}/")
    program = client.get("/loyalty/")
    referrals = client.get("/loyalty/referrals/")
    text = card.content.decode()
    assert "Лояльність і рекомендації" in text and "Срібний" in text
    assert "0 із 2 рекомендацій цього року" in text
    assert program.status_code == 200 and "Безкоштовна доставка" in program.content.decode()
    assert referrals.status_code == 200 and "Хто рекомендував" in referrals.content.decode()

    code = olena.referral_codes.get().code
    attempt: dict[str, Any] = {"order": order.number, "code": code, "form_token": uuid.uuid4()}
    refused = client.post("/loyalty/referrals/attribute/", attempt)
    assert refused.status_code == 422
    assert "Це власний код рекомендації клієнта" in refused.content.decode()
    assert not Event.objects.filter(event_type="referral.converted").exists()

    # On the order form the code goes in the source: her own is refused beside it.
    vase = sku_create(price="640.00", on_hand=5)
    new_order = {
        "form_token": uuid.uuid4(),
        "customer_id": olena.pk,
        "channel": "phone",
        "carrier": "pickup",
        "payment_method": "cash",
        "shipping": "0",
        "line_sku": [vase.pk],
        "line_qty": ["1"],
        "source": f"ref:{code.lower()}",
    }
    orders = Order.objects.count()
    refused = client.post("/orders/new/", new_order)
    assert refused.status_code == 422 and Order.objects.count() == orders
    body = refused.content.decode()
    field = body[body.rindex('<div class="field', 0, body.index('name="source"')) :]
    assert "Це власний код рекомендації клієнта" in field[: field.index("</div>")]
    friend = {**new_order, "form_token": uuid.uuid4(), "customer_id": ""}
    friend |= {"phone": "067 123 45 67", "first_name": "Марина"}
    assert client.post("/orders/new/", friend).status_code == 302
    assert ReferralConversion.objects.get().referrer_id == olena.pk

    bad_tiers = {
        "tiers-TOTAL_FORMS": "2",
        "tiers-INITIAL_FORMS": "0",
        "tiers-0-code": "gold",
        "tiers-0-name": "Золотий",
        "tiers-0-min_spend": "5000",
        "tiers-1-code": "silver",
        "tiers-1-name": "Срібний",
        "tiers-1-min_spend": "100",
    }
    answer = client.post("/loyalty/tiers/", bad_tiers)
    assert answer.status_code == 422
    assert list(Tier.objects.values_list("code", flat=True)) == ["silver"]
