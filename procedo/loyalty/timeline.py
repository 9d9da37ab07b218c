"""How the log tells tiers, memberships, referral codes, referrals and their rewards."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext_lazy

from procedo.core.money import money_format
from procedo.events.timeline import Names, sentence_register, subject_register
from procedo.loyalty.services.referrals import reward_words


def _program_names(ids: Sequence[int]) -> Mapping[int, str]:
    return {pk: str(gettext_lazy("the loyalty programme")) for pk in ids}


def _tiers(event: Any, names: Names) -> Mapping[str, Any]:
    # The tiers' names as they were, from the payload: no query per line, and a renamed
    # or deleted tier still reads as it was then.
    payload = event.payload or {}
    none = str(gettext_lazy("no tier"))
    return {"from": payload.get("from_name") or none, "to": payload.get("to_name") or none}


def _reward(event: Any, names: Names) -> Mapping[str, Any]:
    payload = event.payload or {}
    try:
        value = Decimal(str(payload.get("value") or payload.get("amount") or "0"))
    except InvalidOperation:
        value = Decimal(0)
    currency = str(payload.get("currency", ""))
    return {
        "reward": reward_words(str(payload.get("kind", "")), value, currency),
        "amount": money_format(value, currency),
        "order": payload.get("order", ""),
    }


def timeline_register() -> None:
    subject_register("loyalty_program", names=_program_names, url_name="loyalty:program")
    sentence_register(
        "loyalty.program_updated", gettext_lazy("%(actor)s changed %(subject)s's terms")
    )
    sentence_register("loyalty.tiers_set", gettext_lazy("%(actor)s set the loyalty tiers"))
    sentence_register(
        "loyalty.tier_upgraded",
        gettext_lazy("%(subject)s moved up from %(from)s to %(to)s"),
        _tiers,
    )
    sentence_register(
        "loyalty.tier_downgraded",
        gettext_lazy("%(subject)s moved down from %(from)s to %(to)s"),
        _tiers,
    )
    sentence_register("loyalty.membership_entered", gettext_lazy("%(subject)s became a member"))
    sentence_register(
        "loyalty.referral_code_issued",
        gettext_lazy("%(subject)s got the referral code %(code)s"),
        lambda event, names: {"code": event.payload.get("code", "")},
    )
    sentence_register(
        "referral.converted",
        gettext_lazy("%(subject)s referred a customer: order %(order)s"),
        lambda event, names: {"order": event.payload.get("order", "")},
    )
    sentence_register(
        "reward.credited",
        gettext_lazy("%(subject)s was credited %(reward)s (referral order %(order)s)"),
        _reward,
    )
    sentence_register(
        "reward.redeemed",
        gettext_lazy("%(actor)s used %(subject)s's reward on order %(order)s: %(amount)s off"),
        _reward,
    )
