"""What an SOP can run on (subjects), what its conditions can ask, and which events it hears.

Every subject field maps to an ORM lookup, so a set of conditions becomes one
`Q` and is evaluated in SQL for a whole batch of subjects (or inside the
INSERT … SELECT of a sweep). Payload fields of an event ("event.to") are read
from the events already in memory. A new subject or event is one entry here.

(Over 600 lines on purpose: it is the one list of subjects, fields and events, which forms,
conditions, sweeps and the docs derive from; split, that list would have several homes.)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import Exists, OuterRef, Q
from django.urls import NoReverseMatch, reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

NUMBER, TEXT, CHOICE, DATETIME, TAGS, BOOL = "number", "text", "choice", "datetime", "tags", "bool"
SEGMENT = "segment"  # the customer is in a marketing segment (its rules, asked now)

OPERATORS: dict[str, tuple[str, ...]] = {
    NUMBER: ("eq", "ne", "gt", "gte", "lt", "lte", "is_set", "is_not_set"),
    TEXT: ("eq", "ne", "contains", "not_contains", "in", "not_in", "is_set", "is_not_set"),
    CHOICE: ("eq", "ne", "in", "not_in"),
    DATETIME: ("older_than_days", "within_days", "is_set", "is_not_set"),
    TAGS: ("has", "has_not"),
    BOOL: ("is_true", "is_false"),
    SEGMENT: ("in_segment", "not_in_segment"),
}
OPERATOR_LABELS: dict[str, str | Promise] = {
    "eq": _("is"),
    "ne": _("is not"),
    "gt": _("is more than"),
    "gte": _("is at least"),
    "lt": _("is less than"),
    "lte": _("is at most"),
    "contains": _("contains"),
    "not_contains": _("does not contain"),
    "in": _("is one of"),
    "not_in": _("is none of"),
    "is_set": _("is set"),
    "is_not_set": _("is not set"),
    "older_than_days": _("is more than N days ago"),
    "within_days": _("is within the last N days"),
    "has": _("has"),
    "has_not": _("does not have"),
    "is_true": _("is yes"),
    "is_false": _("is no"),
    "in_segment": _("is in"),
    "not_in_segment": _("is not in"),
}
NO_VALUE = frozenset({"is_set", "is_not_set", "is_true", "is_false"})
PAYLOAD_PREFIX = "event."


@dataclass(frozen=True)
class SubjectField:
    name: str
    label: str | Promise
    type: str
    lookup: str = ""  # ORM path from the subject; "" for payload fields
    nullable: bool = False
    choices: Callable[[], list[tuple[str, str]]] | None = None


@dataclass(frozen=True)
class Subject:
    name: str
    label: str | Promise
    model_path: str
    fields: Mapping[str, SubjectField]
    # ORM path from the subject to its customer's id (tags, messages); None: no customer.
    customer_lookup: str | None
    base_filter: Callable[[], Q] = Q
    url_name: str = ""

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_path)

    def queryset(self) -> models.QuerySet[Any]:
        return self.model._default_manager.filter(self.base_filter())

    def date_fields(self) -> list[SubjectField]:
        return [f for f in self.fields.values() if f.type == DATETIME]


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    subject: str
    label: str | Promise
    payload: Mapping[str, SubjectField] = field(default_factory=dict)


def _statuses() -> list[tuple[str, str]]:
    from procedo.orders.models import OrderStatus

    return list(OrderStatus.objects.order_by("position", "id").values_list("code", "label"))


def _categories() -> list[tuple[str, str]]:
    from procedo.orders.models import StatusCategory

    return [(str(value), str(label)) for value, label in StatusCategory.choices]


def _loyalty_tiers() -> list[tuple[str, str]]:
    from procedo.loyalty.models import Tier

    return list(Tier.objects.order_by("min_spend").values_list("code", "name"))


def _segments() -> list[tuple[str, str]]:
    from procedo.marketing.models import Segment

    return [(str(pk), name) for pk, name in Segment.objects.values_list("pk", "name")[:500]]


def _rfm_groups() -> list[tuple[str, str]]:
    from procedo.marketing.models import RfmGroup

    return [(str(value), str(label)) for value, label in RfmGroup.choices]


def _lead_statuses() -> list[tuple[str, str]]:
    from procedo.sales.models import LeadStatus

    return [(str(value), str(label)) for value, label in LeadStatus.choices]


def _stage_kinds() -> list[tuple[str, str]]:
    from procedo.sales.models import StageKind

    return [(str(value), str(label)) for value, label in StageKind.choices]


def _fields(*items: SubjectField) -> dict[str, SubjectField]:
    return {item.name: item for item in items}


def _customer_fields(prefix: str, path: str) -> list[SubjectField]:
    """The customer's fields, asked from the customer itself or through an order."""
    at = f"{path}__" if path else ""
    return [
        SubjectField(f"{prefix}tags", _("customer tags"), TAGS, lookup=path or "pk"),
        SubjectField(f"{prefix}orders_count", _("customer's orders"), NUMBER, f"{at}orders_count"),
        SubjectField(
            f"{prefix}lifetime_value", _("customer's lifetime value"), NUMBER, f"{at}lifetime_value"
        ),
        SubjectField(
            f"{prefix}last_order_at",
            _("customer's last order"),
            DATETIME,
            f"{at}last_order_at",
            nullable=True,
        ),
        SubjectField(
            f"{prefix}first_order_at",
            _("customer's first order"),
            DATETIME,
            f"{at}first_order_at",
            nullable=True,
        ),
        SubjectField(f"{prefix}created_at", _("customer since"), DATETIME, f"{at}created_at"),
        SubjectField(f"{prefix}country", _("customer's country"), TEXT, f"{at}country"),
        SubjectField(f"{prefix}source", _("customer's source"), TEXT, f"{at}source"),
        # Marketing: segments and RFM groups (procedo/marketing).
        SubjectField(
            f"{prefix}segment", _("customer's segment"), SEGMENT, path or "pk", choices=_segments
        ),
        SubjectField(
            f"{prefix}rfm_group",
            _("customer's RFM group"),
            CHOICE,
            f"{at}rfm__group",
            nullable=True,
            choices=_rfm_groups,
        ),
    ]


def _live_customers() -> Q:
    return Q(merged_into__isnull=True)


SUBJECTS: dict[str, Subject] = {
    "order": Subject(
        name="order",
        label=_("Order"),
        model_path="orders.Order",
        customer_lookup="customer_id",
        url_name="orders:detail",
        fields=_fields(
            SubjectField("status", _("status"), CHOICE, "status_id", choices=_statuses),
            SubjectField(
                "status_category", _("status kind"), CHOICE, "status__category", choices=_categories
            ),
            SubjectField("total", _("total"), NUMBER, "total"),
            SubjectField("currency", _("currency"), TEXT, "currency"),
            SubjectField("channel", _("channel"), TEXT, "channel"),
            SubjectField("source", _("source"), TEXT, "source"),
            SubjectField("placed_at", _("placed at"), DATETIME, "placed_at"),
            SubjectField("confirmed_at", _("confirmed at"), DATETIME, "confirmed_at", True),
            SubjectField("paid_at", _("paid at"), DATETIME, "paid_at", True),
            SubjectField("shipped_at", _("shipped at"), DATETIME, "shipped_at", True),
            SubjectField("delivered_at", _("delivered at"), DATETIME, "delivered_at", True),
            SubjectField("cancelled_at", _("cancelled at"), DATETIME, "cancelled_at", True),
            SubjectField("has_customer", _("has a customer"), BOOL, "customer_id"),
            *_customer_fields("customer.", "customer_id"),
        ),
    ),
    "customer": Subject(
        name="customer",
        label=_("Customer"),
        model_path="customers.Customer",
        customer_lookup="pk",
        base_filter=_live_customers,
        url_name="customers:card",
        fields=_fields(
            *_customer_fields("", ""),
            # --- loyalty (procedo/loyalty): the tier and the membership, for conditions
            SubjectField(
                "loyalty_tier",
                _("loyalty tier"),
                CHOICE,
                "loyalty__tier__code",
                nullable=True,
                choices=_loyalty_tiers,
            ),
            SubjectField("loyalty_member", _("is a member"), BOOL, "loyalty__member_since"),
        ),
    ),
    "business": Subject(
        name="business",
        label=_("The business"),
        model_path="core.Business",
        customer_lookup=None,
        fields={},
    ),
    # Sales (procedo/sales): leads and the deals they become.
    "lead": Subject(
        name="lead",
        label=_("Lead"),
        model_path="sales.Lead",
        customer_lookup="customer_id",
        url_name="sales:lead",
        fields=_fields(
            SubjectField("status", _("lead status"), CHOICE, "status", choices=_lead_statuses),
            SubjectField("source", _("source"), TEXT, "source"),
            SubjectField("utm_campaign", _("UTM campaign"), TEXT, "utm_campaign"),
            SubjectField("consent", _("agreed to be contacted"), BOOL, "consent"),
            SubjectField("created_at", _("arrived at"), DATETIME, "created_at"),
            SubjectField(
                "first_contact_at", _("first contact at"), DATETIME, "first_contact_at", True
            ),
            SubjectField("has_owner", _("has an owner"), BOOL, "owner_id"),
        ),
    ),
    "deal": Subject(
        name="deal",
        label=_("Deal"),
        model_path="sales.Deal",
        customer_lookup="customer_id",
        url_name="sales:deal",
        fields=_fields(
            SubjectField(
                "stage_kind", _("stage kind"), CHOICE, "stage__kind", choices=_stage_kinds
            ),
            SubjectField("stage_name", _("stage"), TEXT, "stage__name"),
            SubjectField("value", _("value"), NUMBER, "value"),
            SubjectField("stage_entered_at", _("in the stage since"), DATETIME, "stage_entered_at"),
            SubjectField("closed_at", _("closed at"), DATETIME, "closed_at", True),
            SubjectField("created_at", _("opened at"), DATETIME, "created_at"),
            *_customer_fields("customer.", "customer_id"),
        ),
    ),
}

# ---------------------------------------------------------------- support (procedo/support)


def _static(*pairs: tuple[str, str | Promise]) -> Callable[[], list[tuple[str, str]]]:
    return lambda: [(code, str(label)) for code, label in pairs]


_CONVERSATION_STATUSES = _static(
    ("new", _("New")),
    ("open", _("Open")),
    ("waiting", _("Waiting on customer")),
    ("solved", _("Solved")),
    ("closed", _("Closed")),
)
_PRIORITIES = _static(
    ("low", _("Low")), ("normal", _("Normal")), ("high", _("High")), ("urgent", _("Urgent"))
)
SUBJECTS["conversation"] = Subject(
    name="conversation",
    label=_("Conversation"),
    model_path="support.Conversation",
    customer_lookup="customer_id",
    url_name="support:conversation",
    fields=_fields(
        SubjectField("status", _("status"), CHOICE, "status", choices=_CONVERSATION_STATUSES),
        SubjectField(
            "channel",
            _("channel"),
            CHOICE,
            "channel",
            choices=_static(("email", _("Email")), ("sms", _("SMS")), ("telegram", "Telegram")),
        ),
        SubjectField("created_at", _("opened at"), DATETIME, "created_at"),
        SubjectField("last_message_at", _("last message"), DATETIME, "last_message_at"),
        SubjectField("reply_due_at", _("answer due"), DATETIME, "reply_due_at", nullable=True),
        SubjectField("has_owner", _("has an owner"), BOOL, "assignee_id"),
        *_customer_fields("customer.", "customer_id"),
    ),
)
SUBJECTS["ticket"] = Subject(
    name="ticket",
    label=_("Ticket"),
    model_path="support.Ticket",
    customer_lookup="conversation__customer_id",
    fields=_fields(
        SubjectField("priority", _("priority"), CHOICE, "priority", choices=_PRIORITIES),
        SubjectField("category", _("category"), TEXT, "category__name", nullable=True),
        SubjectField(
            "status",
            _("status"),
            CHOICE,
            "conversation__status",
            choices=_CONVERSATION_STATUSES,
        ),
        SubjectField("opened_at", _("opened at"), DATETIME, "opened_at"),
        SubjectField(
            "resolution_due_at", _("solution due"), DATETIME, "resolution_due_at", nullable=True
        ),
        SubjectField("solved_at", _("solved at"), DATETIME, "solved_at", nullable=True),
        SubjectField("csat_rating", _("rating"), NUMBER, "csat_rating", nullable=True),
        SubjectField("has_order", _("has an order"), BOOL, "order_id"),
        *_customer_fields("customer.", "conversation__customer_id"),
    ),
)

_STATUS = SubjectField("", _("status"), CHOICE, choices=_statuses)


def _payload(
    **items: tuple[str | Promise, str, Callable[[], list[tuple[str, str]]] | None],
) -> dict:
    return {
        f"{PAYLOAD_PREFIX}{name}": SubjectField(
            f"{PAYLOAD_PREFIX}{name}", label, kind, choices=choices
        )
        for name, (label, kind, choices) in items.items()
    }


EVENTS: dict[str, EventSpec] = {
    spec.event_type: spec
    for spec in (
        EventSpec(
            "order.created",
            "order",
            _("Order placed"),
            _payload(
                status=(_("status"), CHOICE, _statuses),
                total=(_("total"), NUMBER, None),
                currency=(_("currency"), TEXT, None),
                channel=(_("channel"), TEXT, None),
            ),
        ),
        EventSpec(
            "order.status_changed",
            "order",
            _("Order status changed"),
            _payload(
                **{
                    "from": (_("from status"), CHOICE, _statuses),
                    "to": (_("to status"), CHOICE, _statuses),
                }
            ),
        ),
        EventSpec("order.paid", "order", _("Order paid in full")),
        EventSpec("payment.recorded", "order", _("Payment recorded")),
        EventSpec("shipment.created", "order", _("Shipment created")),
        EventSpec(
            "shipment.status_changed",
            "order",
            _("Shipment status changed"),
            _payload(to=(_("to shipment status"), TEXT, None)),
        ),
        EventSpec("refund.recorded", "order", _("Refund recorded")),
        EventSpec("return.created", "order", _("Return requested")),
        EventSpec("customer.created", "customer", _("Customer created")),
        EventSpec("customer.updated", "customer", _("Customer updated")),
        EventSpec(
            "customer.tagged",
            "customer",
            _("Customer tagged"),
            _payload(tag=(_("tag"), TEXT, None)),
        ),
        EventSpec(
            "customer.untagged",
            "customer",
            _("Customer untagged"),
            _payload(tag=(_("tag"), TEXT, None)),
        ),
        # --- loyalty and referrals (procedo/loyalty)
        EventSpec(
            "loyalty.tier_upgraded",
            "customer",
            _("Loyalty tier went up"),
            _payload(
                **{
                    "from": (_("from tier"), CHOICE, _loyalty_tiers),
                    "to": (_("to tier"), CHOICE, _loyalty_tiers),
                }
            ),
        ),
        EventSpec(
            "loyalty.tier_downgraded",
            "customer",
            _("Loyalty tier went down"),
            _payload(
                **{
                    "from": (_("from tier"), CHOICE, _loyalty_tiers),
                    "to": (_("to tier"), CHOICE, _loyalty_tiers),
                }
            ),
        ),
        EventSpec("loyalty.membership_entered", "customer", _("Customer became a member")),
        EventSpec("referral.converted", "customer", _("Customer referred a new customer")),
        # --- RFM (procedo/marketing): "customer became at risk" is this with event.to_group
        EventSpec(
            "rfm.group_changed",
            "customer",
            _("Customer moved to another RFM group"),
            _payload(
                from_group=(_("from RFM group"), CHOICE, _rfm_groups),
                to_group=(_("to RFM group"), CHOICE, _rfm_groups),
            ),
        ),
        # Integrations (procedo/integrations): a shop's checkout left without an order.
        EventSpec(
            "checkout.abandoned",
            "customer",
            _("Checkout abandoned"),
            _payload(total=(_("total"), NUMBER, None), currency=(_("currency"), TEXT, None)),
        ),
        EventSpec(
            "shipment.waiting_at_branch",
            "order",
            _("Parcel waiting at the branch for 3 days"),
            _payload(days=(_("days waiting"), NUMBER, None)),
        ),
        # Support (procedo/support)
        EventSpec(
            "conversation.opened",
            "conversation",
            _("Customer wrote a new conversation"),
            _payload(channel=(_("channel"), TEXT, None)),
        ),
        EventSpec(
            "conversation.waiting", "conversation", _("Conversation waits past the standard")
        ),
        EventSpec(
            "ticket.opened",
            "ticket",
            _("Ticket opened"),
            _payload(priority=(_("priority"), CHOICE, _PRIORITIES)),
        ),
        EventSpec(
            "ticket.sla_breached",
            "ticket",
            _("Ticket SLA breached"),
            _payload(
                target=(
                    _("target"),
                    CHOICE,
                    _static(("first_response", _("First answer")), ("resolution", _("Solution"))),
                )
            ),
        ),
        EventSpec("ticket.solved", "ticket", _("Ticket solved")),
        EventSpec(
            "ticket.rated",
            "ticket",
            _("Customer rated a ticket"),
            _payload(rating=(_("rating"), NUMBER, None)),
        ),
        # Sales (procedo/sales)
        EventSpec(
            "lead.created",
            "lead",
            _("Lead arrived"),
            _payload(
                source=(_("source"), TEXT, None),
                origin=(_("came by"), TEXT, None),
                utm_campaign=(_("UTM campaign"), TEXT, None),
            ),
        ),
        EventSpec("lead.qualified", "lead", _("Lead qualified into a deal")),
        EventSpec(
            "deal.stage_changed",
            "deal",
            _("Deal moved to another stage"),
            _payload(
                from_name=(_("from stage"), TEXT, None),
                to_name=(_("to stage"), TEXT, None),
                kind=(_("kind of the new stage"), CHOICE, _stage_kinds),
            ),
        ),
        EventSpec("deal.won", "deal", _("Deal won")),
        EventSpec(
            "deal.lost", "deal", _("Deal lost"), _payload(reason_name=(_("reason"), TEXT, None))
        ),
    )
}


def subject_get(name: str) -> Subject | None:
    return SUBJECTS.get(name)


def subject_url(subject_type: str, subject_id: int) -> str:
    """The page of one subject ("" when its kind has none)."""
    subject = SUBJECTS.get(subject_type)
    if subject is None or not subject.url_name:
        return ""
    try:
        return reverse(subject.url_name, args=[subject_id])
    except NoReverseMatch:
        return ""


def field_get(subject: Subject, name: str, event_type: str = "") -> SubjectField | None:
    if name.startswith(PAYLOAD_PREFIX):
        spec = EVENTS.get(event_type)
        return spec.payload.get(name) if spec else None
    return subject.fields.get(name)


def events_of(subject_name: str) -> list[EventSpec]:
    return [spec for spec in EVENTS.values() if spec.subject == subject_name]


# ---------------------------------------------------------------- values


class BadValue(ValueError):
    """A condition's value does not fit its field and operator; the message says how."""


def _decimal(value: Any) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise BadValue(f"{value!r} is not a number") from None
    if not number.is_finite():
        raise BadValue(f"{value!r} is not a number")
    return number


def _listed(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    cleaned = [str(item).strip() for item in items if str(item).strip()]
    if not cleaned:
        raise BadValue("give at least one value")
    return cleaned


def value_clean(spec: SubjectField, op: str, value: Any) -> Any:
    """The value in its stored form (numbers as strings, lists as lists), or BadValue."""
    if op in NO_VALUE:
        return None
    if op in ("older_than_days", "within_days"):
        days = _decimal(value)
        if days != days.to_integral_value() or not 0 <= days <= 36500:
            raise BadValue("give a whole number of days")
        return int(days)
    if op in ("in", "not_in"):
        items = _listed(value)
        if spec.type == CHOICE and spec.choices is not None:
            known = {code for code, _label in spec.choices()}
            unknown = [item for item in items if item not in known]
            if unknown and known:
                raise BadValue(f"{unknown[0]!r} is not one of {', '.join(sorted(known))}")
        return items
    if spec.type == NUMBER:
        return str(_decimal(value))
    text = str(value if value is not None else "").strip()
    if not text:
        raise BadValue("give a value")
    if spec.type in (CHOICE, SEGMENT) and spec.choices is not None:
        known = {code for code, _label in spec.choices()}
        if (known or spec.type == SEGMENT) and text not in known:
            raise BadValue(f"{text!r} is not one of {', '.join(sorted(known))}")
    return text


# ---------------------------------------------------------------- SQL


def _tag_key(value: Any) -> str:
    from procedo.customers.normalise import text_key

    return text_key(str(value))


def rule_q(spec: SubjectField, op: str, value: Any, *, now: datetime) -> Q:
    """One condition as a Q on the subject's queryset."""
    lookup = spec.lookup
    if spec.type == TAGS:
        from procedo.customers.models import CustomerTag

        tagged = Exists(
            CustomerTag.objects.filter(customer_id=OuterRef(lookup), tag__name_key=_tag_key(value))
        )
        return Q(tagged) if op == "has" else ~Q(tagged)
    if spec.type == SEGMENT:
        from procedo.marketing.selectors import segment_ids_q

        inside = segment_ids_q(int(value), lookup=lookup)
        return inside if op == "in_segment" else ~inside
    if spec.type == BOOL:
        present = Q(**{f"{lookup}__isnull": False})
        return present if op == "is_true" else ~present
    if op == "is_set":
        q = Q(**{f"{lookup}__isnull": False})
        return q & ~Q(**{lookup: ""}) if spec.type == TEXT else q
    if op == "is_not_set":
        q = Q(**{f"{lookup}__isnull": True})
        return q | Q(**{lookup: ""}) if spec.type == TEXT else q
    if op == "older_than_days":
        return Q(**{f"{lookup}__lt": now - timedelta(days=int(value))})
    if op == "within_days":
        return Q(**{f"{lookup}__gte": now - timedelta(days=int(value))})
    if op == "contains":
        return Q(**{f"{lookup}__icontains": value})
    if op == "not_contains":
        return ~Q(**{f"{lookup}__icontains": value})
    if op in ("in", "not_in"):
        q = Q(**{f"{lookup}__in": list(value)})
        return q if op == "in" else ~q
    typed: Any = Decimal(str(value)) if spec.type == NUMBER else value
    if op == "ne":
        return ~Q(**{lookup: typed})
    suffix = {"eq": "", "gt": "__gt", "gte": "__gte", "lt": "__lt", "lte": "__lte"}[op]
    return Q(**{f"{lookup}{suffix}": typed})


def combine(parts: Iterable[Q], match: str) -> Q:
    combined: Q | None = None
    for part in parts:
        if combined is None:
            combined = part
        else:
            combined = combined & part if match == "all" else combined | part
    return combined if combined is not None else Q()


# ---------------------------------------------------------------- payload


PayloadPredicate = Callable[[Mapping[str, Any]], bool]


def payload_predicate(spec: SubjectField, op: str, value: Any) -> PayloadPredicate:
    """One payload condition compiled once, then tested on many events in memory."""
    key = spec.name[len(PAYLOAD_PREFIX) :]
    absent = (None, "")
    if op in ("is_set", "is_not_set", "is_true", "is_false"):
        return {
            "is_set": lambda p: p.get(key) not in absent,
            "is_not_set": lambda p: p.get(key) in absent,
            "is_true": lambda p: bool(p.get(key)),
            "is_false": lambda p: not p.get(key),
        }[op]
    when_absent = op in ("ne", "not_in", "not_contains")
    if spec.type == NUMBER:
        right = Decimal(str(value))
        compare: Callable[[Decimal], bool] = {
            "eq": lambda x: x == right,
            "ne": lambda x: x != right,
            "gt": lambda x: x > right,
            "gte": lambda x: x >= right,
            "lt": lambda x: x < right,
            "lte": lambda x: x <= right,
        }.get(op, lambda x: False)

        def number(p: Mapping[str, Any]) -> bool:
            raw = p.get(key)
            if raw in absent:
                return when_absent
            try:
                return compare(_decimal(raw))
            except BadValue:
                return False

        return number
    if op in ("in", "not_in"):
        options = frozenset(str(item) for item in value)
        inside = op == "in"
        return lambda p: (
            when_absent if p.get(key) in absent else (str(p.get(key)) in options) == inside
        )
    if op in ("contains", "not_contains"):
        needle = str(value).casefold()
        inside = op == "contains"
        return lambda p: (
            when_absent
            if p.get(key) in absent
            else (needle in str(p.get(key)).casefold()) == inside
        )
    if op in ("eq", "ne"):
        wanted, equal = str(value), op == "eq"
        return lambda p: (
            when_absent if p.get(key) in absent else (str(p.get(key)) == wanted) == equal
        )
    return lambda p: False


def payload_rule_matches(spec: SubjectField, op: str, value: Any, payload: Mapping) -> bool:
    """One payload condition, tested on an event already in memory."""
    return payload_predicate(spec, op, value)(payload)
