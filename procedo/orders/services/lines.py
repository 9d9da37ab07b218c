"""An order's lines and delivery as a caller gives them (OrderLineIn, DeliveryIn),
and how taking and editing an order check, price and write them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q
from django.utils.translation import gettext as _

from procedo.catalog.models import Sku
from procedo.catalog.services import OutOfStock
from procedo.core.bounds import MAX_QUANTITY, number_check
from procedo.core.errors import DomainError, NotFound
from procedo.core.money import amount_clean
from procedo.customers.normalise import phone_normalise
from procedo.orders.models import DeliveryCarrier, DeliveryPoint, Order, OrderLine, PaymentMethod
from procedo.orders.services._common import ZERO
from procedo.orders.totals import OrderTotals


@dataclass(frozen=True)
class OrderLineIn:
    """One line of a new order: a SKU (by id or code) or a free line with its own price."""

    quantity: int
    sku_id: int | None = None
    sku_code: str = ""
    description: str = ""
    unit_price: Decimal | str | None = None  # None: the SKU's price
    discount: Decimal | str = ZERO  # off the whole line


def _skus_for(lines: Sequence[OrderLineIn]) -> tuple[dict[int, Sku], dict[str, Sku]]:
    ids = {line.sku_id for line in lines if line.sku_id is not None}
    codes = {line.sku_code.strip() for line in lines if line.sku_id is None and line.sku_code}
    if not ids and not codes:
        return {}, {}
    found = list(Sku.objects.select_related("product").filter(Q(pk__in=ids) | Q(code__in=codes)))
    return {sku.pk: sku for sku in found}, {sku.code: sku for sku in found}


@dataclass(frozen=True)
class _Line:
    sku: Sku | None
    sku_code: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal


def _lines_resolve(
    lines: Sequence[OrderLineIn],
    currency: str,
    skus: tuple[dict[int, Sku], dict[str, Sku]] | None = None,
) -> list[_Line]:
    """The lines checked and priced; `skus` (by id, by code) when the caller read them for a
    whole batch of orders (`_skus_for` over all their lines)."""
    by_id, by_code = skus if skus is not None else _skus_for(lines)
    resolved = []
    for i, line in enumerate(lines):
        field = f"lines.{i}"
        if not isinstance(line.quantity, int) or line.quantity <= 0:
            raise DomainError(
                field=f"{field}.quantity", message=_("A quantity must be above zero.")
            )
        # A shop's payload reaches here without the API's schema: bounded in the service.
        number_check(line.quantity, field=f"{field}.quantity", low=1, high=MAX_QUANTITY)
        sku: Sku | None = None
        if line.sku_id is not None:
            sku = by_id.get(line.sku_id)
            if sku is None:
                raise NotFound(field=f"{field}.sku_id", message=_("No such SKU."))
        elif line.sku_code:
            # A code the catalog does not know is kept on the line (an imported
            # order may sell what was never entered here); it holds no stock.
            sku = by_code.get(line.sku_code.strip())
        if line.unit_price is not None:
            unit_price = amount_clean(line.unit_price, currency, field=f"{field}.unit_price")
        elif sku is None:
            raise DomainError(
                field=f"{field}.unit_price", message=_("A line without a SKU needs a price.")
            )
        elif sku.currency != currency:
            raise DomainError(
                field=f"{field}.unit_price",
                message=_("%(code)s is priced in %(sku)s; give its price in %(order)s.")
                % {"code": sku.code, "sku": sku.currency, "order": currency},
            )
        else:
            unit_price = sku.price
        description = line.description.strip()
        if not description and sku is not None:
            description = " ".join(part for part in (sku.product.name, sku.name) if part)
        if not description:
            raise DomainError(
                field=f"{field}.description", message=_("Describe a line without a SKU.")
            )
        resolved.append(
            _Line(
                sku=sku,
                sku_code=sku.code if sku else line.sku_code.strip(),
                description=description[:300],
                quantity=line.quantity,
                unit_price=unit_price,
                discount=amount_clean(line.discount, currency, field=f"{field}.discount"),
            )
        )
    return resolved


def _lines_write(order: Order, resolved: Sequence[_Line], totals: OrderTotals) -> None:
    """The order's priced lines, one INSERT (a new order, or an edit after its old lines go)."""
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            sku=line.sku,
            sku_code=line.sku_code,
            description=line.description,
            quantity=line.quantity,
            unit_price=line.unit_price,
            discount=line.discount,
            line_total=line_total,
        )
        for line, line_total in zip(resolved, totals.line_totals, strict=True)
    )


@dataclass(frozen=True)
class DeliveryIn:
    """How the parcel travels: a carrier, to a branch (or parcel locker) or to an address."""

    carrier: str = ""  # DeliveryCarrier, or "" while not agreed yet
    point: str = ""  # DeliveryPoint
    city: str = ""
    branch: str = ""
    address: str = ""
    recipient_name: str = ""
    recipient_phone: str = ""


DELIVERY_TEXT_LIMITS = {"city": 100, "branch": 100, "address": 200, "recipient_name": 150}


def _delivery_clean(delivery: DeliveryIn) -> dict[str, str]:
    """The order's delivery columns, or a refusal naming `delivery.<field>`.

    A carrier that is not agreed yet leaves the rest optional; once it is, the parcel
    needs a city and a branch or an address (pickup from the store needs neither).
    """
    carrier = delivery.carrier.strip()
    if carrier and carrier not in DeliveryCarrier.values:
        raise DomainError(
            field="delivery.carrier", message=_("Unknown carrier %(c)s.") % {"c": carrier}
        )
    point = delivery.point.strip()
    if point and point not in DeliveryPoint.values:
        raise DomainError(
            field="delivery.point", message=_("Deliver to a branch or to an address.")
        )
    text: dict[str, str] = {}
    for name, limit in DELIVERY_TEXT_LIMITS.items():
        value = " ".join(str(getattr(delivery, name)).split())
        if len(value) > limit:
            raise DomainError(
                field=f"delivery.{name}",
                code="too_large",
                message=_("At most %(limit)s characters.") % {"limit": limit},
            )
        text[name] = value
    if carrier == DeliveryCarrier.PICKUP:
        point, text["city"] = "", ""
    elif carrier:
        if carrier == DeliveryCarrier.COURIER:
            point = point or DeliveryPoint.ADDRESS
        if not point:
            raise DomainError(
                field="delivery.point", message=_("Deliver to a branch or to an address.")
            )
        if not text["city"]:
            raise DomainError(field="delivery.city", message=_("Which city?"))
        if point == DeliveryPoint.BRANCH and not text["branch"]:
            raise DomainError(field="delivery.branch", message=_("Which branch or parcel locker?"))
        if point == DeliveryPoint.ADDRESS and not text["address"]:
            raise DomainError(field="delivery.address", message=_("Which street and house?"))
    recipient_phone = ""
    if delivery.recipient_phone.strip():
        try:
            recipient_phone = phone_normalise(delivery.recipient_phone[:40]).e164
        except DomainError as exc:
            raise DomainError(field="delivery.recipient_phone", message=exc.message) from None
    return {
        "delivery_carrier": carrier,
        "delivery_point": point,
        "delivery_city": text["city"],
        # What the parcel does not go to is not kept: a branch order has no street.
        "delivery_branch": text["branch"] if point == DeliveryPoint.BRANCH else "",
        "delivery_address": text["address"] if point == DeliveryPoint.ADDRESS else "",
        "recipient_name": text["recipient_name"],
        "recipient_phone": recipient_phone,
    }


def _payment_method_clean(method: str) -> str:
    method = (method or "").strip()
    if method and method not in PaymentMethod.values:
        raise DomainError(
            field="payment_method", message=_("Unknown payment method %(m)s.") % {"m": method}
        )
    return method


def _stock_refusal(exc: OutOfStock, lines: Sequence[_Line]) -> OutOfStock:
    """The stock's refusal, named after the first line that asks for that SKU."""
    index = next((i for i, line in enumerate(lines) if line.sku_code == exc.sku_code), None)
    return OutOfStock(
        sku_code=exc.sku_code,
        available=exc.available,
        requested=exc.requested,
        field=f"lines.{index}.quantity" if index is not None else "lines",
    )
