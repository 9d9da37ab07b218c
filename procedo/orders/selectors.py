"""Reads of orders: the list (filters, keyset pages), the order card, the pipeline."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from procedo.accounts.models import User
from procedo.business.selectors import business_get
from procedo.catalog.models import Sku
from procedo.core.errors import DomainError, NotFound
from procedo.core.exports import Column
from procedo.core.paging import Page, keyset_all, keyset_page
from procedo.customers import selectors as customer_selectors
from procedo.customers.models import Address, AddressKind, Customer, Identity
from procedo.customers.normalise import phone_normalise
from procedo.events.selectors import TimelinePage, timeline_for_subject
from procedo.orders.models import (
    PAYMENT_RECEIVED,
    DeliveryCarrier,
    Order,
    OrderLine,
    OrderStatus,
    OrderTransition,
    Payment,
    Refund,
    Return,
    ReturnLine,
    Shipment,
    StatusCategory,
    StockState,
)
from procedo.orders.permissions import manager_roles
from procedo.orders.totals import OrderTotals, PricedLine, order_totals

ORDER_KEYSET = ("-placed_at", "-id")
ZERO = Decimal("0")


@dataclass(frozen=True)
class OrderFilters:
    status: str | None = None
    placed_from: date | None = None  # a day in the business's time zone, inclusive
    placed_to: date | None = None  # inclusive
    amount_min: Decimal | None = None
    amount_max: Decimal | None = None
    customer_id: int | None = None
    # An order number, a phone (the customer's or the recipient's), a tracking number.
    query: str = ""
    customer: str = ""  # a customer's name, phone or email, as the customer list finds them
    manager_id: int | None = None


SEARCH_MATCHES_MAX = 1000  # orders one search term may name (a busy recipient's phone)
CUSTOMERS_BY_NAME_MAX = 500  # beyond this a name filter stays a subquery


def _search(query: str) -> Q | None:
    """Orders an exact number, shop reference, tracking number or phone points at.

    Each is an index seek (the unique number and reference, the recipient's phone, the
    shipments' tracking index, the customer's phone identity) done first, so the page
    query filters by a few ids instead of testing every order under an OR.
    """
    needle = query.strip().lstrip("#").strip()[:100]
    if not needle:
        return None
    by_value = Q(number=needle) | Q(external_ref=needle)
    customer_id = None
    if sum(ch.isdigit() for ch in needle) >= 7:
        try:
            phone = phone_normalise(needle).e164
        except DomainError:
            phone = ""
        if phone:
            by_value |= Q(recipient_phone=phone)
            customer = customer_selectors.customer_find(phone=phone)
            customer_id = customer.pk if customer is not None else None
    ids = set(Order.objects.filter(by_value).values_list("pk", flat=True)[:SEARCH_MATCHES_MAX])
    ids.update(
        Shipment.objects.filter(tracking_number=needle).values_list("order_id", flat=True)[
            :SEARCH_MATCHES_MAX
        ]
    )
    found = Q(pk__in=sorted(ids))
    if customer_id is not None:
        found |= Q(customer_id=customer_id)
    return found


def order_id_by_number(number: str, *, field: str = "order") -> int:
    """The order a person names by its number (as it is printed on the order), or NotFound
    naming `field`."""
    number = number.strip().lstrip("#").strip()
    order_id = Order.objects.filter(number=number[:40]).values_list("pk", flat=True).first()
    if order_id is None:
        raise NotFound(field=field, message=_("No order numbered %(n)s.") % {"n": number[:40]})
    return order_id


def order_numbers_taken(numbers: list[str]) -> set[str]:
    """Which of these order numbers an order already has."""
    return set(Order.objects.filter(number__in=numbers).values_list("number", flat=True))


def _customers_named(query: str) -> Q:
    """Orders of the customers a name (phone, email) starts: their ids first when few."""
    matching = customer_selectors.customer_ids_matching(query=query)
    ids = set(matching.distinct()[: CUSTOMERS_BY_NAME_MAX + 1])
    if len(ids) <= CUSTOMERS_BY_NAME_MAX:
        return Q(customer_id__in=sorted(ids))
    return Q(customer_id__in=matching)


def _day_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


def orders_filtered(filters: OrderFilters, *, zone: ZoneInfo | None = None) -> QuerySet[Order]:
    """The filtered queryset behind the list; each filter has an index that ends in the keyset."""
    orders = Order.objects.select_related("status", "customer", "manager")
    if filters.status:
        orders = orders.filter(status__code=filters.status)
    return _filtered(orders, filters, zone=zone)


def _filtered(
    orders: QuerySet[Order], filters: OrderFilters, *, zone: ZoneInfo | None
) -> QuerySet[Order]:
    """Every filter but the status: the status tabs count what the other filters leave."""
    if filters.customer_id is not None:
        orders = orders.filter(customer_id=filters.customer_id)
    if filters.customer.strip():
        orders = orders.filter(_customers_named(filters.customer))
    if filters.manager_id is not None:
        orders = orders.filter(manager_id=filters.manager_id)
    found = _search(filters.query)
    if found is not None:
        orders = orders.filter(found)
    if filters.placed_from or filters.placed_to:
        # "Orders of 3 March" means 3 March where the shop is, not in UTC.
        zone = zone or business_get().zone
        if filters.placed_from:
            orders = orders.filter(placed_at__gte=_day_start(filters.placed_from, zone))
        if filters.placed_to:
            end = _day_start(filters.placed_to + timedelta(days=1), zone)
            orders = orders.filter(placed_at__lt=end)
    if filters.amount_min is not None:
        orders = orders.filter(total__gte=filters.amount_min)
    if filters.amount_max is not None:
        orders = orders.filter(total__lte=filters.amount_max)
    return orders


def order_list(
    *,
    filters: OrderFilters | None = None,
    cursor: str | None = None,
    limit: int = 50,
    zone: ZoneInfo | None = None,
) -> Page[Order]:
    """Newest first, paged by keyset (placed_at, id): one query a page, never an OFFSET.

    A date filter reads the business's time zone unless `zone` is given (one query more).
    """
    queryset = orders_filtered(filters or OrderFilters(), zone=zone)
    return keyset_page(queryset, order=ORDER_KEYSET, cursor=cursor, limit=limit)


def _customer_name(order: Order) -> str:
    return str(order.customer) if order.customer_id else ""


# The orders list as a file (procedo/core/exports.py).
ORDER_COLUMNS = (
    Column(gettext_lazy("Number"), lambda o: o.number),
    Column(gettext_lazy("Placed"), lambda o: o.placed_at),
    Column(gettext_lazy("Kind"), lambda o: o.get_kind_display()),
    Column(gettext_lazy("Status"), lambda o: o.status.label),
    Column(gettext_lazy("Customer ID"), lambda o: o.customer_id),
    Column(gettext_lazy("Customer"), _customer_name),
    Column(gettext_lazy("Manager"), lambda o: str(o.manager) if o.manager_id else ""),
    Column(gettext_lazy("Currency"), lambda o: o.currency),
    Column(gettext_lazy("Subtotal"), lambda o: o.subtotal),
    Column(gettext_lazy("Discount"), lambda o: o.discount_total),
    Column(gettext_lazy("Shipping"), lambda o: o.shipping_total),
    Column(gettext_lazy("Total"), lambda o: o.total),
    Column(gettext_lazy("Paid"), lambda o: o.paid_at),
    Column(gettext_lazy("Shipped"), lambda o: o.shipped_at),
    Column(gettext_lazy("Delivered"), lambda o: o.delivered_at),
    Column(gettext_lazy("Cancelled"), lambda o: o.cancelled_at),
    Column(gettext_lazy("Channel"), lambda o: o.channel),
    Column(gettext_lazy("Source"), lambda o: o.source),
    Column(gettext_lazy("External ref"), lambda o: o.external_ref),
)


def order_export_rows(filters: OrderFilters) -> Iterator[Order]:
    """Every order the list shows with these filters, read in batches for a file."""
    return keyset_all(orders_filtered(filters), order=ORDER_KEYSET)


def order_status_counts(
    *, filters: OrderFilters | None = None, zone: ZoneInfo | None = None
) -> dict[str, int]:
    """How many orders each status tab holds under the other filters: one GROUP BY on
    the (status, placed_at, id) index."""
    orders = _filtered(Order.objects.order_by(), filters or OrderFilters(), zone=zone)
    return {
        str(code): n
        for code, n in orders.values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    }


def delivery_gaps(*, order_ids: Sequence[int]) -> dict[int, list[str]]:
    """What an order lacks to be called delivered: a shipment, money received (two queries).

    Orders lacking nothing are left out.
    """
    ids = list(order_ids)
    shipped = set(
        Shipment.objects.filter(order_id__in=ids).values_list("order_id", flat=True).distinct()
    )
    paid = set(
        Payment.objects.filter(order_id__in=ids, status__in=PAYMENT_RECEIVED)
        .values_list("order_id", flat=True)
        .distinct()
    )
    gaps: dict[int, list[str]] = {}
    for order_id in ids:
        missing = []
        if order_id not in shipped:
            missing.append(_("no shipment"))
        if order_id not in paid:
            missing.append(_("no payment received"))
        if missing:
            gaps[order_id] = missing
    return gaps


def orders_allowed_to(*, order_ids: Sequence[int], to_status: str) -> set[int]:
    """Which of these orders the pipeline lets move to `to_status` from where they are."""
    return set(
        Order.objects.filter(
            pk__in=list(order_ids), status__transitions_out__to_status__code=to_status
        ).values_list("pk", flat=True)
    )


def delivered_statuses() -> set[str]:
    return set(
        OrderStatus.objects.filter(category=StatusCategory.DELIVERED).values_list("code", flat=True)
    )


def managers_all() -> list[User]:
    """The people an order can be given to: active, with a role that works on orders."""
    return list(
        User.objects.filter(is_active=True, role__in=manager_roles()).order_by(
            "first_name", "last_name", "username"
        )
    )


def orders_of_customer(customer_id: int, limit: int = 10) -> list[Order]:
    """A customer's latest orders, for the customer card: one query on (customer, placed_at, id)."""
    return list(
        Order.objects.select_related("status")
        .filter(customer_id=customer_id)
        .order_by(*ORDER_KEYSET)[:limit]
    )


@dataclass(frozen=True)
class OrderCard:
    order: Order
    lines: list[OrderLine]
    payments: list[Payment]
    refunds: list[Refund]
    shipments: Sequence[Shipment]  # each with its history prefetched as `changes`
    returns: list[Return]
    next_statuses: list[OrderStatus]
    timeline: TimelinePage
    received: Decimal = ZERO
    refunded: Decimal = ZERO
    returned_by_line: dict[int, int] = field(default_factory=dict)

    @property
    def balance_due(self) -> Decimal:
        return self.order.total - self.received + self.refunded


def order_detail(*, order_id: int, timeline_limit: int = 25) -> OrderCard | None:
    """Everything the order card shows, in a fixed number of queries (10; 9 without timeline)."""
    order = (
        Order.objects.select_related("status", "customer", "manager").filter(pk=order_id).first()
    )
    if order is None:
        return None
    lines = list(OrderLine.objects.filter(order_id=order.pk).select_related("sku"))
    payments = list(Payment.objects.filter(order_id=order.pk))
    refunds = list(Refund.objects.filter(order_id=order.pk).select_related("actor"))
    shipments = list(
        Shipment.objects.filter(order_id=order.pk).prefetch_related(
            Prefetch("history", to_attr="changes")
        )
    )
    returns = list(
        Return.objects.filter(order_id=order.pk).prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line"))
        )
    )
    next_statuses = list(
        OrderStatus.objects.filter(transitions_in__from_status__code=order.status.code).order_by(
            "position", "id"
        )
    )
    timeline = (
        timeline_for_subject(subject_type="order", subject_id=order.pk, limit=timeline_limit)
        if timeline_limit > 0
        else TimelinePage(events=[], next_before=None)
    )
    returned: dict[int, int] = {}
    for ret in returns:
        if ret.status != "rejected":
            for line in ret.lines.all():
                returned[line.order_line_id] = returned.get(line.order_line_id, 0) + line.quantity
    return OrderCard(
        order=order,
        lines=lines,
        payments=payments,
        refunds=refunds,
        shipments=shipments,
        returns=returns,
        next_statuses=next_statuses,
        timeline=timeline,
        received=sum((p.amount for p in payments if p.status in PAYMENT_RECEIVED), ZERO),
        refunded=sum((r.amount for r in refunds), ZERO),
        returned_by_line=returned,
    )


@dataclass(frozen=True)
class Pipeline:
    statuses: list[OrderStatus]
    transitions: list[OrderTransition]
    orders_in: dict[str, int]  # status code -> orders in it

    def allows(self, from_status: str, to_status: str) -> bool:
        return to_status in self.next_of(from_status)

    def next_of(self, code: str) -> list[str]:
        return [str(t.to_status_id) for t in self.transitions if str(t.from_status_id) == code]


def pipeline_get() -> Pipeline:
    """The statuses, the allowed moves and how many orders sit in each status (three queries)."""
    statuses = list(OrderStatus.objects.order_by("position", "id"))
    transitions = list(
        OrderTransition.objects.select_related("from_status", "to_status").order_by(
            "from_status__position", "to_status__position"
        )
    )
    counts = {
        str(code): n
        for code, n in Order.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    }
    return Pipeline(statuses=statuses, transitions=transitions, orders_in=counts)


def status_get(*, code: str) -> OrderStatus | None:
    return OrderStatus.objects.filter(code=code).first()


def orders_with_gaps(*, gaps: dict[int, list[str]]) -> list[tuple[Order, list[str]]]:
    """The orders `delivery_gaps` named, with what each lacks, by number."""
    orders = Order.objects.select_related("customer").filter(pk__in=list(gaps)).order_by("number")
    return [(order, gaps[order.pk]) for order in orders]


def order_for_edit(*, order_id: int) -> Order | None:
    """An order with its status and lines (as `line_rows`): the edit page, two queries."""
    order = Order.objects.select_related("status", "customer").filter(pk=order_id).first()
    if order is not None:
        order.line_rows = list(OrderLine.objects.filter(order_id=order.pk))  # type: ignore[attr-defined]
    return order


@dataclass(frozen=True)
class PreviewLine:
    sku: Sku | None
    quantity: int
    unit_price: Decimal | None  # None: the SKU's price
    discount: Decimal = ZERO


@dataclass(frozen=True)
class OrderPreview:
    currency: str
    items: int
    totals: OrderTotals | None  # None when the lines cannot be priced yet
    problem: str = ""
    short: list[tuple[str, int]] = field(default_factory=list)  # (SKU code, available)


def stock_held(*, order_id: int | None) -> dict[int, int]:
    """What an order holds reserved per SKU: stock it may keep when its lines change."""
    if order_id is None:
        return {}
    held: dict[int, int] = {}
    lines = OrderLine.objects.filter(
        order_id=order_id, order__stock_state=StockState.RESERVED, sku__isnull=False
    )
    for sku_id, quantity in lines.values_list("sku_id", "quantity"):
        held[sku_id] = held.get(sku_id, 0) + quantity
    return held


def order_preview(
    *,
    lines: Sequence[PreviewLine],
    shipping: Decimal,
    currency: str,
    held: dict[int, int] | None = None,
) -> OrderPreview:
    """What the order form adds up to as it stands, and which lines ask beyond the stock
    (counting what the order being edited holds already, `held`).

    No query: the lines come with their SKUs. The service prices the order again on save.
    """
    held = held or {}
    priced: list[PricedLine] = []
    short: list[tuple[str, int]] = []
    wanted: dict[int, int] = {}
    for line in lines:
        price = line.unit_price
        if price is None and line.sku is not None and line.sku.currency == currency:
            price = line.sku.price
        if price is None or line.quantity <= 0:
            continue
        priced.append(PricedLine(line.quantity, price, line.discount))
        if line.sku is not None and not line.sku.allow_backorder:
            wanted[line.sku.pk] = wanted.get(line.sku.pk, 0) + line.quantity
            available = line.sku.available + held.get(line.sku.pk, 0)
            if wanted[line.sku.pk] > available:
                short.append((line.sku.code, max(available, 0)))
    items = sum(line.quantity for line in priced)
    try:
        totals = order_totals(lines=priced, currency=currency, shipping=shipping)
    except DomainError as exc:
        return OrderPreview(currency=currency, items=items, totals=None, problem=exc.message)
    return OrderPreview(currency=currency, items=items, totals=totals, short=short)


def statuses_all() -> list[OrderStatus]:
    return list(OrderStatus.objects.order_by("position", "id"))


@dataclass(frozen=True)
class WorkSubject:
    """What a person doing a task about an order or a customer needs beside the checklist:
    who (to call or write), where the parcel goes, and what is in it."""

    customer: Customer | None
    order: Order | None
    lines: list[OrderLine]
    address: str  # the order's delivery place, else the customer's latest shipping address


def work_subject(*, subject_type: str, subject_id: int | None) -> WorkSubject | None:
    """The task page's subject box (four queries at most); None for other subjects."""
    if subject_id is None or subject_type not in ("order", "customer"):
        return None
    order = None
    lines: list[OrderLine] = []
    customer_id: int | None = subject_id
    if subject_type == "order":
        order = Order.objects.select_related("status").filter(pk=subject_id).first()
        if order is None:
            return None
        lines = list(OrderLine.objects.filter(order_id=order.pk).order_by("id"))
        customer_id = order.customer_id
    customer = None
    if customer_id is not None:
        customer = (
            Customer.objects.prefetch_related(
                Prefetch("identities", queryset=Identity.objects.order_by("kind", "id"))
            )
            .filter(pk=customer_id)
            .first()
        )
    address = order.delivery_place if order is not None else ""
    if order is not None and order.delivery_carrier == DeliveryCarrier.PICKUP:
        address = str(DeliveryCarrier.PICKUP.label)
    if not address and customer is not None:
        kept = (
            Address.objects.filter(customer_id=customer.pk, kind=AddressKind.SHIPPING)
            .order_by("-id")
            .first()
        )
        address = str(kept) if kept is not None else ""
    return WorkSubject(customer=customer, order=order, lines=lines, address=address)


def work_subject_panel(*, subject_type: str, subject_id: int | None) -> dict[str, object] | None:
    subject = work_subject(subject_type=subject_type, subject_id=subject_id)
    return {"subject": subject} if subject is not None else None
