"""Referral codes, and the orders attributed to them."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import money_format
from procedo.customers.models import LIVE, Customer
from procedo.events.services.recording import NewEvent, event_record, events_record_many
from procedo.loyalty.codes import code_generate, code_in_source, code_normalise
from procedo.loyalty.models import Program, ReferralCode, ReferralConversion, RewardKind
from procedo.loyalty.services.rewards import rewards_credit
from procedo.orders.models import Order


@transaction.atomic
def referral_code_issue(*, customer_id: int, actor: Actor) -> ReferralCode:
    """The customer's referral code, made the first time it is asked for."""
    existing = ReferralCode.objects.filter(customer_id=customer_id).order_by("created_at").first()
    if existing is not None:
        return existing
    if not Customer.objects.filter(LIVE, pk=customer_id).exists():
        raise NotFound(
            field="customer_id", message=_("No customer with id %(id)s.") % {"id": customer_id}
        )
    for _attempt in range(5):  # a clash among 6.6e11 codes is rare; five in a row is a bug
        code = ReferralCode(customer_id=customer_id, code=code_generate())
        try:
            with transaction.atomic():
                code.save(force_insert=True)
        except IntegrityError:
            continue
        event_record(
            event_type="loyalty.referral_code_issued",
            subject_type="customer",
            subject_id=customer_id,
            customer_id=customer_id,
            actor=actor,
            payload={"code": code.code},
        )
        return code
    raise Conflict(field="code", message=_("No free referral code was found; try again."))


def referral_codes_issue(*, customer_ids: Sequence[int], actor: Actor) -> int:
    """`referral_code_issue` for many customers at once (new members of a busy day): the
    codes of those who have none, in one INSERT; how many were made. Customers not live
    (merged away) get none."""
    have = set(
        ReferralCode.objects.filter(customer_id__in=customer_ids).values_list(
            "customer_id", flat=True
        )
    )
    wanted = list(
        Customer.objects.filter(LIVE, pk__in=set(customer_ids) - have)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not wanted:
        return 0
    for _attempt in range(5):  # a clash among 6.6e11 codes is rare; five in a row is a bug
        codes = [ReferralCode(customer_id=pk, code=code_generate()) for pk in wanted]
        try:
            with transaction.atomic():
                ReferralCode.objects.bulk_create(codes)
        except IntegrityError:
            continue
        events_record_many(
            NewEvent(
                event_type="loyalty.referral_code_issued",
                subject_type="customer",
                subject_id=code.customer_id,
                customer_id=code.customer_id,
                actor_id=actor_id_of(actor),
                payload={"code": code.code},
            )
            for code in codes
        )
        return len(codes)
    raise Conflict(field="code", message=_("No free referral code was found; try again."))


def _code_find(typed: str, *, field: str) -> ReferralCode:
    code = code_normalise(typed)
    found = ReferralCode.objects.filter(code=code).first() if code else None
    if found is None:
        raise DomainError(
            field=field,
            code="unknown_code",
            message=_("%(code)s is not a referral code.") % {"code": (typed or "")[:40]},
        )
    return found


def _attribute(order: Order, typed: str, *, field: str, actor: Actor) -> ReferralConversion:
    code = _code_find(typed, field=field)
    if order.customer_id is None:
        raise DomainError(
            field="customer_id", message=_("A referred order needs the customer who placed it.")
        )
    if code.customer_id == order.customer_id:
        raise DomainError(
            field=field,
            code="own_code",
            message=_("This is the customer's own referral code; it refers someone else."),
        )
    if ReferralConversion.objects.filter(order=order).exists():
        raise Conflict(field="order_id", message=_("This order is attributed already."))
    if ReferralConversion.objects.filter(referred_id=order.customer_id).exists():
        raise Conflict(field=field, message=_("This customer was referred before."))
    program = Program.objects.filter(pk=1).first() or Program()
    conversion = ReferralConversion.objects.create(
        order=order,
        code=code,
        referrer_id=code.customer_id,
        referred_id=order.customer_id,
        referrer_reward_kind=program.referrer_reward_kind,
        referrer_reward_value=program.referrer_reward_value,
        friend_reward_kind=program.friend_reward_kind,
        friend_reward_value=program.friend_reward_value,
    )
    event_record(
        event_type="referral.converted",
        subject_type="customer",
        subject_id=code.customer_id,
        customer_id=code.customer_id,
        actor=actor,
        payload={
            "code": code.code,
            "order_id": order.pk,
            "order": order.number,
            "referred_id": order.customer_id,
            # The terms as data: a reader sees them in words in their own language.
            "referrer_reward": {
                "kind": program.referrer_reward_kind,
                "value": str(program.referrer_reward_value),
            },
            "friend_reward": {
                "kind": program.friend_reward_kind,
                "value": str(program.friend_reward_value),
            },
        },
        idempotency_key=f"loyalty:referral:order:{order.pk}",
    )
    rewards_credit(conversion=conversion, actor=actor)
    return conversion


@idempotent("referral.attribute", replay=lambda pk: ReferralConversion.objects.get(pk=pk))
@transaction.atomic
def referral_attribute(
    *, order_id: int, code: str, actor: Actor, idempotency_key: str | None
) -> ReferralConversion:
    """Attribute an order to the owner of `code` (typed on the order after it was placed).
    The customer's own code, an unknown code or a second referral is refused, unchanged."""
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        raise NotFound(field="order_id", message=_("No order with id %(id)s.") % {"id": order_id})
    return _attribute(order, code, field="code", actor=actor)


def referral_attribute_placed(order: Order, actor: Actor) -> None:
    """The order hook: an order placed with "ref:CODE" in its source is the code owner's
    referral. A bad code refuses the order naming `source`; a customer referred before
    keeps their first referrer and the order stands."""
    typed = code_in_source(order.source)
    if typed is None:
        return
    if (
        order.customer_id
        and ReferralConversion.objects.filter(referred_id=order.customer_id).exists()
    ):
        code = _code_find(typed, field="source")
        if code.customer_id == order.customer_id:
            _attribute(order, typed, field="source", actor=actor)  # refuses: own code
        return
    _attribute(order, typed, field="source", actor=actor)


def reward_words(kind: str, value: Decimal, currency: str) -> str:
    """A reward as a person reads it: "10% off", "200.00 ₴ store credit", "nothing"."""
    if kind == RewardKind.PERCENT:
        return _("%(percent)s%% off the next order") % {"percent": f"{value.normalize():f}"}
    if kind == RewardKind.CREDIT:
        return _("%(amount)s store credit") % {"amount": money_format(value, currency)}
    return _("nothing")
