"""The programme's terms and tiers, and each member's tier recomputed from their spend
in the window.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import BigIntegerField, F, IntegerField, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Cast, Coalesce, Round
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.analytics.kpis import SIGNED_CENTS, valued_orders
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.core.money import amount_clean
from procedo.customers.models import LIVE, Customer
from procedo.events.services.recording import event_record
from procedo.loyalty.models import CustomerLoyalty, Program, RewardKind, Tier

MAX_TIERS = 10


MAX_WINDOW_DAYS = 3650


MAX_BENEFITS = 2000


_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _program() -> Program:
    program, _created = Program.objects.get_or_create(pk=1)
    return program


def _reward_clean(kind: str, value: Any, *, field: str, currency: str) -> tuple[str, Decimal]:
    if kind not in RewardKind.values:
        raise DomainError(
            field=f"{field}_kind",
            message=_("Choose one of: %(kinds)s.") % {"kinds": ", ".join(RewardKind.values)},
        )
    if kind == RewardKind.NONE:
        return kind, Decimal(0)
    amount = amount_clean(value, currency, field=f"{field}_value", positive=True)
    if kind == RewardKind.PERCENT and amount > 100:
        raise DomainError(field=f"{field}_value", message=_("A discount is at most 100%."))
    return kind, amount


def _text_clean(value: str, *, field: str, limit: int) -> str:
    text = (value or "").strip()
    if len(text) > limit:
        raise DomainError(
            field=field, code="too_long", message=_("At most %(n)s characters.") % {"n": limit}
        )
    return text


@transaction.atomic
def program_update(
    *,
    actor: Actor,
    window_days: int | None = None,
    referrer_reward_kind: str | None = None,
    referrer_reward_value: Any = None,
    friend_reward_kind: str | None = None,
    friend_reward_value: Any = None,
    link_base: str | None = None,
    membership_name: str | None = None,
    membership_benefits: str | None = None,
) -> Program:
    """Change the terms; None leaves a term as it is. A new window recomputes the tiers."""
    program = _program()
    currency = business_get().currency
    changed: dict[str, Any] = {}
    if window_days is not None:
        if isinstance(window_days, bool) or not 1 <= int(window_days) <= MAX_WINDOW_DAYS:
            raise DomainError(
                field="window_days",
                message=_("Between 1 and %(n)s days.") % {"n": MAX_WINDOW_DAYS},
            )
        changed["window_days"] = int(window_days)
    rewards = (
        ("referrer_reward", referrer_reward_kind, referrer_reward_value),
        ("friend_reward", friend_reward_kind, friend_reward_value),
    )
    for side, kind, value in rewards:
        if kind is None and value is None:
            continue
        # A new amount alone keeps the kind of reward it is an amount of.
        kind = kind if kind is not None else getattr(program, f"{side}_kind")
        changed[f"{side}_kind"], changed[f"{side}_value"] = _reward_clean(
            kind, value, field=side, currency=currency
        )
    if link_base is not None:
        link = link_base.strip()
        if link and not re.match(r"^https?://[^\s/?#]+[^\s]*$", link):
            raise DomainError(
                field="link_base",
                message=_("The link starts with https:// and the store's address."),
            )
        changed["link_base"] = _text_clean(link, field="link_base", limit=300)
    if membership_name is not None:
        changed["membership_name"] = _text_clean(
            membership_name, field="membership_name", limit=100
        )
    if membership_benefits is not None:
        changed["membership_benefits"] = _text_clean(
            membership_benefits, field="membership_benefits", limit=MAX_BENEFITS
        )
    changed = {name: value for name, value in changed.items() if getattr(program, name) != value}
    if not changed:
        return program
    for name, value in changed.items():
        setattr(program, name, value)
    program.updated_at = timezone.now()
    program.save()
    event_record(
        event_type="loyalty.program_updated",
        subject_type="loyalty_program",
        subject_id=program.pk,
        actor=actor,
        payload={name: str(value) for name, value in changed.items()},
    )
    if "window_days" in changed:
        tiers_recompute(actor=actor)
    return program


@dataclass(frozen=True)
class TierIn:
    code: str
    name: str
    min_spend: Decimal | str
    benefits: str = ""


def _tiers_clean(tiers: Sequence[TierIn], currency: str) -> list[TierIn]:
    if len(tiers) > MAX_TIERS:
        raise DomainError(
            field="tiers", code="too_large", message=_("At most %(n)s tiers.") % {"n": MAX_TIERS}
        )
    cleaned: list[TierIn] = []
    for index, tier in enumerate(tiers):
        at = f"tiers.{index}"
        code = (tier.code or "").strip().lower()
        if not _CODE.match(code):
            raise DomainError(
                field=f"{at}.code",
                message=_("A code is up to 40 lower-case letters, digits, - and _."),
            )
        if any(code == other.code for other in cleaned):
            raise DomainError(
                field=f"{at}.code", message=_("Two tiers have the code %(code)s.") % {"code": code}
            )
        name = _text_clean(tier.name, field=f"{at}.name", limit=80)
        if not name:
            raise DomainError(field=f"{at}.name", message=_("Give the tier a name."))
        spend = amount_clean(tier.min_spend, currency, field=f"{at}.min_spend")
        if cleaned:
            before = cleaned[-1]
            if spend == before.min_spend:
                raise DomainError(
                    field=f"{at}.min_spend",
                    code="overlapping",
                    message=_("%(name)s starts at the same spend as %(other)s.")
                    % {"name": name, "other": before.name},
                )
            if spend < Decimal(before.min_spend):
                raise DomainError(
                    field=f"{at}.min_spend",
                    code="unordered",
                    message=_(
                        "List the tiers from the lowest spend up: %(name)s starts below %(other)s."
                    )
                    % {"name": name, "other": before.name},
                )
        benefits = _text_clean(tier.benefits, field=f"{at}.benefits", limit=MAX_BENEFITS)
        cleaned.append(TierIn(code=code, name=name, min_spend=spend, benefits=benefits))
    return cleaned


@transaction.atomic
def tiers_set(*, tiers: Sequence[TierIn], actor: Actor) -> list[Tier]:
    """Replace the tiers with `tiers` (lowest spend first) and recompute every customer's.

    A tier missing from the list is deleted (its holders get the tier their spend reaches);
    one whose code stays keeps its holders."""
    cleaned = _tiers_clean(tiers, business_get().currency)
    codes = [tier.code for tier in cleaned]
    Tier.objects.exclude(code__in=codes).delete()
    # Thresholds are UNIQUE; moving them in place could collide midway (two tiers swapping
    # their spends), so the kept ones step aside to a negative spend first.
    Tier.objects.update(min_spend=-F("id"))
    for tier in cleaned:
        Tier.objects.update_or_create(
            code=tier.code,
            defaults={"name": tier.name, "min_spend": tier.min_spend, "benefits": tier.benefits},
        )
    event_record(
        event_type="loyalty.tiers_set",
        subject_type="loyalty_program",
        subject_id=_program().pk,
        actor=actor,
        payload={"tiers": [{"code": t.code, "min_spend": str(t.min_spend)} for t in cleaned]},
    )
    tiers_recompute(actor=actor)
    return list(Tier.objects.all())


def _cents(expression: Any) -> Cast:
    return Cast(Round(expression * 100), BigIntegerField())


def spend_cents_subquery(since: datetime) -> Coalesce:
    """The customer's spend since `since` in minor units, for an outer Customer queryset:
    sales not cancelled and not returned, less return documents (as analytics counts)."""
    spent = (
        valued_orders()
        .filter(customer_id=OuterRef("pk"), placed_at__gte=since)
        .values("customer_id")
        .annotate(cents=Sum(SIGNED_CENTS))
        .values("cents")
    )
    return Coalesce(Subquery(spent, output_field=BigIntegerField()), Value(0))


def window_start(now: datetime) -> datetime:
    program = Program.objects.filter(pk=1).first() or Program()
    return now - timedelta(days=program.window_days)


def _reached_tier() -> Coalesce:
    """The id of the highest tier whose threshold the outer row's `spend_cents` reaches; 0 none."""
    reached = (
        Tier.objects.annotate(threshold=_cents(F("min_spend")))
        .filter(threshold__lte=OuterRef("spend_cents"))
        .order_by("-min_spend")
        .values("pk")[:1]
    )
    return Coalesce(Subquery(reached, output_field=IntegerField()), Value(0))


def tier_changes(
    *, customer_ids: Iterable[int] | None = None, now: datetime | None = None
) -> list[tuple[int, int, int, int]]:
    """(customer_id, old tier id, new tier id, spend in cents) of every customer whose tier
    changes, all in one statement (0 stands for no tier)."""
    customers = Customer.objects.filter(LIVE)
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    rows = (
        customers.annotate(
            spend_cents=spend_cents_subquery(window_start(now or timezone.now())),
            new_tier=_reached_tier(),
            old_tier=Coalesce(F("loyalty__tier_id"), Value(0)),
        )
        .filter(~Q(new_tier=F("old_tier")))
        .order_by("pk")
        .values_list("pk", "old_tier", "new_tier", "spend_cents")
    )
    return list(rows)


@transaction.atomic
def tiers_recompute(
    *, customer_ids: Iterable[int] | None = None, actor: Actor = None, now: datetime | None = None
) -> int:
    """Give every customer (or those of `customer_ids`) the tier their spend reaches; each
    change records `loyalty.tier_upgraded` or `loyalty.tier_downgraded`. The changes made."""
    now = now or timezone.now()
    changes = tier_changes(customer_ids=customer_ids, now=now)
    if not changes:
        return 0
    tiers = {tier.pk: tier for tier in Tier.objects.all()}
    CustomerLoyalty.objects.bulk_create(
        [CustomerLoyalty(customer_id=customer_id) for customer_id, *_rest in changes],
        ignore_conflicts=True,
    )
    made = 0
    for customer_id, old_id, new_id, cents in changes:
        rows = CustomerLoyalty.objects.filter(customer_id=customer_id)
        rows = rows.filter(tier_id=old_id) if old_id else rows.filter(tier__isnull=True)
        if rows.update(tier_id=new_id or None, tier_since=now if new_id else None) != 1:
            continue  # another recompute moved it meanwhile and recorded that change
        old, new = tiers.get(old_id), tiers.get(new_id)
        up = new is not None and (old is None or new.min_spend > old.min_spend)
        event_record(
            event_type="loyalty.tier_upgraded" if up else "loyalty.tier_downgraded",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            actor=actor,
            payload={
                "from": old.code if old else "",
                "to": new.code if new else "",
                "from_name": old.name if old else "",
                "to_name": new.name if new else "",
                "spend": str(Decimal(cents) / 100),
            },
        )
        made += 1
    return made
