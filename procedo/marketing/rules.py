"""The fields a segment's rules may ask, and how a set of rules becomes one query.

Every rule compiles to a `Q` on live customers (a column, an `Exists` or a compared
`Subquery`), so a segment of any size is counted, sampled or sent to by one SQL
statement; no row is filtered in Python. The operators are the SOP conditions'
(`procedo/sops/subjects.py`), so a person learns one vocabulary.

The registry is this app's. A higher app (sops: "SOP run state") calls
`rule_register` from its AppConfig.ready(); a lower app (loyalty: "tier") cannot
import this one, so it lists its rules as plain dicts in `<app>/segment_rules.py`
(`RULES = [{"name", "label", "type", "compile", "choices"?, "period"?}]`), which
`rules_discover` reads when this app is ready, as the admin discovers `admin.py`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.db.models import Count as CountOf
from django.db.models import (
    DecimalField,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce
from django.db.models.lookups import (
    Exact,
    GreaterThan,
    GreaterThanOrEqual,
    LessThan,
    LessThanOrEqual,
)
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.core.errors import DomainError

NUMBER, TEXT, CHOICE, DATETIME, TAGS, BOOL = "number", "text", "choice", "datetime", "tags", "bool"

OPERATORS: dict[str, tuple[str, ...]] = {
    NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte"),
    TEXT: ("eq", "ne", "contains", "not_contains", "in", "not_in", "is_set", "is_not_set"),
    CHOICE: ("eq", "ne", "in", "not_in"),
    DATETIME: ("older_than_days", "within_days", "is_set", "is_not_set"),
    TAGS: ("has", "has_not"),
    BOOL: ("is_true", "is_false"),
}
OPERATOR_LABELS: dict[str, str | Promise] = {
    "eq": gettext_lazy("is"),
    "ne": gettext_lazy("is not"),
    "gt": gettext_lazy("is more than"),
    "gte": gettext_lazy("is at least"),
    "lt": gettext_lazy("is less than"),
    "lte": gettext_lazy("is at most"),
    "contains": gettext_lazy("contains"),
    "not_contains": gettext_lazy("does not contain"),
    "in": gettext_lazy("is one of"),
    "not_in": gettext_lazy("is none of"),
    "is_set": gettext_lazy("is set"),
    "is_not_set": gettext_lazy("is not set"),
    "older_than_days": gettext_lazy("is more than N days ago"),
    "within_days": gettext_lazy("is within the last N days"),
    "has": gettext_lazy("has"),
    "has_not": gettext_lazy("does not have"),
    "is_true": gettext_lazy("is yes"),
    "is_false": gettext_lazy("is no"),
}
NO_VALUE = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
MAX_RULES = 20
MAX_DAYS = 36500
MAX_VALUE_LENGTH = 200
MAX_NUMBER = Decimal("999999999999")

# A compiler: (op, cleaned value, days or None, now) -> Q on customers.
Compile = Callable[[str, Any, int | None, datetime], Q]


@dataclass(frozen=True)
class RuleField:
    name: str
    label: str | Promise
    type: str
    compile: Compile
    choices: Callable[[], list[tuple[str, str]]] | None = None
    # "in the last N days": the rule carries `days` as well as its value; when the
    # period is not required, a rule without `days` asks about all time.
    period: bool = False
    period_required: bool = True


_fields: dict[str, RuleField] = {}


def rule_register(field: RuleField) -> None:
    _fields[field.name] = field


def rule_unregister(name: str) -> None:
    _fields.pop(name, None)


def rule_fields() -> dict[str, RuleField]:
    return dict(_fields)


def rules_discover() -> None:
    """Read `RULES` of every installed app's `segment_rules` module (see the module doc)."""
    for config in apps.get_app_configs():
        try:
            module = importlib.import_module(f"{config.name}.segment_rules")
        except ModuleNotFoundError as exc:
            if exc.name != f"{config.name}.segment_rules":
                raise
            continue
        for item in getattr(module, "RULES", ()):
            rule_register(RuleField(**item) if isinstance(item, Mapping) else item)


# ---------------------------------------------------------------- compiling


def _typed(kind: str, value: Any) -> Any:
    return Decimal(str(value)) if kind == NUMBER else value


def column_rule(lookup: str, kind: str) -> Compile:
    """A rule on a customer's own column (or a path from it)."""

    def compile_(op: str, value: Any, days: int | None, now: datetime) -> Q:
        if op == "is_set":
            q = Q(**{f"{lookup}__isnull": False})
            return q & ~Q(**{lookup: ""}) if kind == TEXT else q
        if op == "is_not_set":
            q = Q(**{f"{lookup}__isnull": True})
            return q | Q(**{lookup: ""}) if kind == TEXT else q
        if op == "older_than_days":
            return Q(**{f"{lookup}__lt": now - timedelta(days=int(value))})
        if op == "within_days":
            return Q(**{f"{lookup}__gte": now - timedelta(days=int(value))})
        if op in ("contains", "not_contains"):
            q = Q(**{f"{lookup}__icontains": value})
            return q if op == "contains" else ~q
        if op in ("in", "not_in"):
            q = Q(**{f"{lookup}__in": list(value)})
            return q if op == "in" else ~q
        if op == "ne":
            return ~Q(**{lookup: _typed(kind, value)})
        suffix = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}[op]
        return Q(**{f"{lookup}{suffix}": _typed(kind, value)})

    return compile_


def compared(expression: Any, op: str, value: Any) -> Q:
    """A number rule on an expression (a correlated Subquery): one lookup in the WHERE."""
    number = Decimal(str(value))
    if op == "ne":
        return ~Q(Exact(expression, number))
    lookup = {
        "eq": Exact,
        "gt": GreaterThan,
        "gte": GreaterThanOrEqual,
        "lt": LessThan,
        "lte": LessThanOrEqual,
    }[op]
    return Q(lookup(expression, number))


def exists_rule(build: Callable[[Any, int | None, datetime], Exists], *, negate: str) -> Compile:
    """A rule that asks whether related rows exist; `negate` names the operator that inverts."""

    def compile_(op: str, value: Any, days: int | None, now: datetime) -> Q:
        q = Q(build(value, days, now))
        return ~q if op == negate else q

    return compile_


def _sale_orders() -> Any:
    from procedo.orders.models import Order, OrderKind, StatusCategory

    return Order.objects.filter(kind=OrderKind.SALE).exclude(
        status__category=StatusCategory.CANCELLED
    )


def _orders_in_period(days: int | None, now: datetime) -> Any:
    return _sale_orders().filter(
        customer_id=OuterRef("pk"), placed_at__gte=now - timedelta(days=days or 0)
    )


def _count_in_period(op: str, value: Any, days: int | None, now: datetime) -> Q:
    counted = (
        _orders_in_period(days, now).values("customer_id").annotate(n=CountOf("id")).values("n")
    )
    return compared(Coalesce(Subquery(counted), Value(0), output_field=IntegerField()), op, value)


def _spend(orders: Any) -> Coalesce:
    spent = orders.values("customer_id").annotate(total=Sum("total")).values("total")
    field: DecimalField[Decimal, Decimal] = DecimalField(max_digits=14, decimal_places=2)
    return Coalesce(Subquery(spent, output_field=field), Value(Decimal(0)), output_field=field)


def _spend_in_period(op: str, value: Any, days: int | None, now: datetime) -> Q:
    return compared(_spend(_orders_in_period(days, now)), op, value)


def _spend_since_first(window: timedelta) -> Compile:
    def compile_(op: str, value: Any, days: int | None, now: datetime) -> Q:
        orders = _sale_orders().filter(
            customer_id=OuterRef("pk"), placed_at__lt=OuterRef("first_order_at") + window
        )
        return compared(_spend(orders), op, value)

    return compile_


def _tagged(value: Any, days: int | None, now: datetime) -> Exists:
    from procedo.customers.models import CustomerTag
    from procedo.customers.normalise import text_key

    return Exists(
        CustomerTag.objects.filter(customer_id=OuterRef("pk"), tag__name_key=text_key(str(value)))
    )


def _bought(lines_filter: Callable[[Any], Q]) -> Compile:
    """ "Bought …" (in the last `days`, or ever): the customer is among those of the matching
    order lines not cancelled. An uncorrelated IN, not a correlated EXISTS: the buyers are
    found once for the whole query (PostgreSQL hashes them even under OR, where an EXISTS
    would run once per customer)."""

    def compile_(op: str, value: Any, days: int | None, now: datetime) -> Q:
        from procedo.orders.models import OrderLine

        lines = OrderLine.objects.filter(
            lines_filter(value), order__customer_id__isnull=False
        ).exclude(order__status__category="cancelled")
        if days:
            lines = lines.filter(order__placed_at__gte=now - timedelta(days=days))
        q = Q(pk__in=lines.values("order__customer_id"))
        return ~q if op == "has_not" else q

    return compile_


def _consent(kind: str) -> Compile:
    def compile_(op: str, value: Any, days: int | None, now: datetime) -> Q:
        from procedo.customers.models import Identity

        wanted = [value] if op in ("eq", "ne") else list(value)
        q = Q(
            Exists(
                Identity.objects.filter(
                    customer_id=OuterRef("pk"), kind=kind, marketing_consent__in=wanted
                )
            )
        )
        return ~q if op in ("ne", "not_in") else q

    return compile_


def _rfm(op: str, value: Any, days: int | None, now: datetime) -> Q:
    from procedo.marketing.models import CustomerRfm

    wanted = [value] if op in ("eq", "ne") else list(value)
    q = Q(Exists(CustomerRfm.objects.filter(customer_id=OuterRef("pk"), group__in=wanted)))
    return ~q if op in ("ne", "not_in") else q


def _consent_choices() -> list[tuple[str, str]]:
    from procedo.customers.models import ConsentState

    return [(str(v), str(label)) for v, label in ConsentState.choices]


def _rfm_choices() -> list[tuple[str, str]]:
    from procedo.marketing.models import RfmGroup

    return [(str(v), str(label)) for v, label in RfmGroup.choices]


def _category_choices() -> list[tuple[str, str]]:
    from procedo.catalog.models import Product

    found = (
        Product.objects.exclude(category="")
        .order_by("category")
        .values_list("category", flat=True)
        .distinct()[:500]
    )
    return [(name, name) for name in found]


def _product_choices() -> list[tuple[str, str]]:
    from procedo.catalog.models import Product

    return [
        (str(pk), name)
        for pk, name in Product.objects.order_by("name", "id")[:500].values_list("pk", "name")
    ]


def builtin_rules() -> list[RuleField]:
    return [
        RuleField("first_name", gettext_lazy("first name"), TEXT, column_rule("first_name", TEXT)),
        RuleField("last_name", gettext_lazy("last name"), TEXT, column_rule("last_name", TEXT)),
        RuleField("company", gettext_lazy("company"), TEXT, column_rule("company", TEXT)),
        RuleField("country", gettext_lazy("country"), TEXT, column_rule("country", TEXT)),
        RuleField("source", gettext_lazy("source"), TEXT, column_rule("source", TEXT)),
        RuleField("tags", gettext_lazy("tags"), TAGS, exists_rule(_tagged, negate="has_not")),
        RuleField(
            "created_at",
            gettext_lazy("customer since"),
            DATETIME,
            column_rule("created_at", DATETIME),
        ),
        RuleField(
            "orders_count",
            gettext_lazy("orders (all time)"),
            NUMBER,
            column_rule("orders_count", NUMBER),
        ),
        RuleField(
            "lifetime_value",
            gettext_lazy("lifetime value"),
            NUMBER,
            column_rule("lifetime_value", NUMBER),
        ),
        RuleField(
            "orders_in_period",
            gettext_lazy("orders in the last N days"),
            NUMBER,
            _count_in_period,
            period=True,
        ),
        RuleField(
            "spend_in_period",
            gettext_lazy("spend in the last N days"),
            NUMBER,
            _spend_in_period,
            period=True,
        ),
        RuleField(
            "spend_first_30_days",
            gettext_lazy("spend in the first 30 days"),
            NUMBER,
            _spend_since_first(timedelta(days=30)),
        ),
        RuleField(
            "spend_first_year",
            gettext_lazy("spend in the first year"),
            NUMBER,
            _spend_since_first(timedelta(days=365)),
        ),
        RuleField(
            "first_order_at",
            gettext_lazy("first order"),
            DATETIME,
            column_rule("first_order_at", DATETIME),
        ),
        RuleField(
            "last_order_at",
            gettext_lazy("last order"),
            DATETIME,
            column_rule("last_order_at", DATETIME),
        ),
        RuleField(
            "product_bought",
            gettext_lazy("bought the product"),
            TAGS,
            _bought(lambda value: Q(sku__product_id=int(value))),
            choices=_product_choices,
            period=True,
            period_required=False,
        ),
        RuleField(
            "category_bought",
            gettext_lazy("bought in the category"),
            TAGS,
            _bought(lambda value: Q(sku__product__category=str(value))),
            choices=_category_choices,
            period=True,
            period_required=False,
        ),
        RuleField(
            "email_consent",
            gettext_lazy("email marketing consent"),
            CHOICE,
            _consent("email"),
            choices=_consent_choices,
        ),
        RuleField(
            "sms_consent",
            gettext_lazy("SMS marketing consent"),
            CHOICE,
            _consent("phone"),
            choices=_consent_choices,
        ),
        RuleField("rfm_group", gettext_lazy("RFM group"), CHOICE, _rfm, choices=_rfm_choices),
    ]


# ---------------------------------------------------------------- cleaning


class BadValue(ValueError):
    """A rule's value does not fit its field and operator; the message says how."""


def _number(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise BadValue(_("%(v)s is not a number") % {"v": repr(value)}) from None
    if not number.is_finite() or abs(number) > MAX_NUMBER:
        raise BadValue(_("%(v)s is not a number") % {"v": repr(value)})
    return number


def _whole_days(value: Any) -> int:
    days = _number(value)
    if days != days.to_integral_value() or not 1 <= days <= MAX_DAYS:
        raise BadValue(_("give a whole number of days from 1 to %(n)s") % {"n": MAX_DAYS})
    return int(days)


def _text(value: Any) -> str:
    text = str(value if value is not None else "").strip()
    if not text:
        raise BadValue(_("give a value"))
    if len(text) > MAX_VALUE_LENGTH:
        raise BadValue(_("at most %(n)s characters") % {"n": MAX_VALUE_LENGTH})
    return text


def _known(spec: RuleField, items: list[str]) -> None:
    if spec.choices is None:
        return
    known = {code for code, _label in spec.choices()}
    for item in items:
        if item not in known:
            raise BadValue(
                _("%(v)s is not one of %(known)s")
                % {"v": repr(item), "known": ", ".join(sorted(known)) or "—"}
            )


def value_clean(spec: RuleField, op: str, value: Any) -> Any:
    """The value in its stored form, or BadValue."""
    if op in NO_VALUE:
        return None
    if op in ("older_than_days", "within_days"):
        return _whole_days(value)
    if op in ("in", "not_in"):
        raw = value if isinstance(value, list) else str(value or "").split(",")
        items = [_text(item) for item in raw if str(item).strip()][:100]
        if not items:
            raise BadValue(_("give at least one value"))
        _known(spec, items)
        return items
    if spec.type == NUMBER:
        return str(_number(value))
    text = _text(value)
    _known(spec, [text])
    return text


def rules_clean(
    rules: Iterable[Mapping[str, Any]], *, field: str = "rules"
) -> list[dict[str, Any]]:
    """Rules with their values in stored form, or a DomainError naming the rule's part."""
    items = list(rules)
    if len(items) > MAX_RULES:
        raise DomainError(
            field=field, message=_("A segment has at most %(n)s rules.") % {"n": MAX_RULES}
        )
    known = rule_fields()
    cleaned = []
    for index, rule in enumerate(items):
        where = f"{field}.{index}"
        if not isinstance(rule, Mapping):
            raise DomainError(field=where, message=_("%(where)s: not a rule") % {"where": where})
        name = str(rule.get("field", ""))
        spec = known.get(name)
        if spec is None:
            raise DomainError(
                field=f"{where}.field",
                message=_("%(where)s.field: unknown field “%(name)s” (known: %(known)s)")
                % {"where": where, "name": name[:60], "known": ", ".join(sorted(known))},
            )
        op = str(rule.get("op", ""))
        if op not in OPERATORS[spec.type]:
            raise DomainError(
                field=f"{where}.op",
                message=_("%(where)s.op: “%(op)s” does not apply to %(name)s (use %(allowed)s)")
                % {
                    "where": where,
                    "op": op[:40],
                    "name": name,
                    "allowed": ", ".join(OPERATORS[spec.type]),
                },
            )
        try:
            value = value_clean(spec, op, rule.get("value"))
        except BadValue as exc:
            raise DomainError(
                field=f"{where}.value",
                message=_("%(where)s.value (%(name)s): %(problem)s")
                % {"where": where, "name": name, "problem": exc},
            ) from None
        days = None
        given = rule.get("days") not in (None, "")
        if spec.period and (spec.period_required or given):
            try:
                days = _whole_days(rule.get("days"))
            except BadValue as exc:
                raise DomainError(
                    field=f"{where}.days",
                    message=_("%(where)s.days (%(name)s): %(problem)s")
                    % {"where": where, "name": name, "problem": exc},
                ) from None
        cleaned.append({"field": name, "op": op, "value": value, "days": days})
    return cleaned


def rules_q(rules: Iterable[Mapping[str, Any]], match: str, *, now: datetime) -> Q:
    """Cleaned rules as one Q on customers (no rules: every customer)."""
    known = rule_fields()
    parts = [
        known[rule["field"]].compile(rule["op"], rule["value"], rule.get("days"), now)
        for rule in rules
    ]
    combined = Q()
    for index, part in enumerate(parts):
        combined = part if index == 0 else (combined & part if match == "all" else combined | part)
    return combined
