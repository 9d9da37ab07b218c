"""The orders' REST endpoints: thin over the order services and selectors.

Errors have one shape, {"detail", "field", "code"}: 422 for bad input (naming the
field), 409 for a move the pipeline refuses or a state that changed, 404, 403.

Over 600 lines on purpose: one router (one tag in the API document) whose thin endpoints
each mirror a service, with the schemas they answer in beside them.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Amount,
    Cursor,
    Day,
    EmailText,
    Id,
    LongText,
    Moment,
    PageLimit,
    PathId,
    PhoneText,
    Quantity,
    ShortText,
    StatusCode,
)
from procedo.core.errors import NotFound
from procedo.core.exports import filters_known
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.events.exports import export_stream
from procedo.orders import selectors
from procedo.orders.models import Order, Payment, Refund, Return, Shipment
from procedo.orders.permissions import PIPELINE_PERMISSION
from procedo.orders.services import editing as editing_services
from procedo.orders.services import lines as line_services
from procedo.orders.services import payments as payment_services
from procedo.orders.services import pipeline as pipeline_services
from procedo.orders.services import returns as return_services
from procedo.orders.services import shipments as shipment_services
from procedo.orders.services import statuses as status_services
from procedo.orders.services import taking as taking_services

router = Router(tags=["orders"])


# --- output -----------------------------------------------------------------------------------


class StatusOut(Schema):
    code: str
    label: str
    position: int
    is_final: bool
    category: str
    editable: bool = Field(description="Lines and delivery can still be changed in it.")


class PipelineTransitionOut(Schema):
    from_status: str
    to_status: str


class PipelineOut(Schema):
    statuses: list[StatusOut]
    transitions: list[PipelineTransitionOut]


class OrderOut(Schema):
    id: int
    number: str
    customer_id: int | None
    status: str
    status_label: str
    currency: str
    subtotal: Decimal
    discount_total: Decimal
    shipping_total: Decimal
    total: Decimal
    placed_at: datetime
    status_changed_at: datetime
    confirmed_at: datetime | None
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    channel: str
    source: str
    external_ref: str | None
    stock_state: str
    note: str
    payment_method: str = Field(description="How the customer will pay; empty: not agreed yet.")
    delivery_carrier: str
    delivery_point: str = Field(description="branch or address; empty for a pickup.")
    delivery_city: str
    delivery_branch: str
    delivery_address: str
    recipient_name: str
    recipient_phone: str = Field(description="E.164.")
    manager_id: int | None


class OrderPageOut(Schema):
    items: list[OrderOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class OrderLineOut(Schema):
    id: int
    sku_id: int | None
    sku_code: str
    description: str
    quantity: int
    unit_price: Decimal
    discount: Decimal
    line_total: Decimal


class PaymentOut(Schema):
    id: int
    order_id: int
    method: str
    amount: Decimal
    currency: str
    status: str
    external_id: str | None
    paid_at: datetime | None
    created_at: datetime


class RefundOut(Schema):
    id: int
    order_id: int
    payment_id: int | None
    amount: Decimal
    currency: str
    reason: str
    external_id: str | None
    created_at: datetime


class ShipmentChangeOut(Schema):
    from_status: str
    to_status: str
    note: str
    occurred_at: datetime


class ShipmentOut(Schema):
    id: int
    order_id: int
    carrier: str
    tracking_number: str
    status: str
    status_changed_at: datetime
    delivered_at: datetime | None
    created_at: datetime
    history: list[ShipmentChangeOut]

    @staticmethod
    def resolve_history(obj: Shipment) -> list[Any]:
        # The order card prefetches the history as `changes`; a new shipment reads it.
        return list(obj.changes) if hasattr(obj, "changes") else list(obj.history.all())


class ReturnLineOut(Schema):
    order_line_id: int
    quantity: int


class ReturnOut(Schema):
    id: int
    order_id: int
    status: str
    reason: str
    restock: bool
    received_at: datetime | None
    created_at: datetime
    lines: list[ReturnLineOut]


class OrderDetailOut(OrderOut):
    lines: list[OrderLineOut]
    payments: list[PaymentOut]
    refunds: list[RefundOut]
    shipments: list[ShipmentOut]
    returns: list[ReturnOut]
    next_statuses: list[str] = Field(description="Where the pipeline lets this order go next.")
    received: Decimal
    refunded: Decimal


# --- input ------------------------------------------------------------------------------------


class OrderFilterQuery(Schema):
    """The orders page's filters, by the page's names."""

    status: ShortText | None = None
    placed_from: Day | None = Field(default=None, description="In the business's time zone.")
    placed_to: Day | None = Field(default=None, description="Inclusive.")
    amount_min: Amount | None = Field(default=None, ge=0)
    amount_max: Amount | None = Field(default=None, ge=0)
    customer_id: Id | None = Field(default=None, description="The customer's id.")
    q: str = Field(
        default="",
        max_length=100,
        description="An order number, a phone (the customer's or the recipient's) "
        "or a tracking number, whole.",
    )
    customer: str = Field(
        default="", max_length=100, description="The start of a customer's name, phone or email."
    )
    manager: Id | None = Field(default=None, description="The manager's user id.")
    manager_id: Id | None = Field(
        default=None,
        description="The former name of `manager`.",
        json_schema_extra={"deprecated": True},
    )

    def selection(self) -> selectors.OrderFilters:
        return selectors.OrderFilters(
            status=self.status,
            placed_from=self.placed_from,
            placed_to=self.placed_to,
            amount_min=self.amount_min,
            amount_max=self.amount_max,
            customer_id=self.customer_id,
            query=self.q,
            customer=self.customer,
            manager_id=self.manager or self.manager_id,
        )


class OrderQuery(OrderFilterQuery):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class OrderExportQuery(OrderFilterQuery):
    format: ExportFormat = "csv"


class StatusCountQuery(OrderFilterQuery):
    """The list's filters; `status` is not one here: every status is counted."""


class StatusCountOut(Schema):
    status: str
    label: str
    count: int


class OrderLineIn(Schema):
    quantity: int = Field(ge=1, le=1_000_000)
    sku_id: Id | None = None
    sku_code: str = Field(default="", max_length=64)
    description: str = Field(default="", max_length=300)
    unit_price: Amount | None = Field(default=None, ge=0, description="Default: the SKU's price.")
    discount: Amount = Field(default=Decimal("0"), ge=0, description="Off the whole line.")


class OrderCustomerIn(Schema):
    phone: PhoneText = Field(default="", description="Any way it is written: 067 123 45 67.")
    email: EmailText = ""
    first_name: str = Field(default="", max_length=150)
    last_name: str = Field(default="", max_length=150)


class OrderDeliveryFieldsIn(Schema):
    carrier: str = Field(
        default="",
        max_length=20,
        description="nova_poshta, ukrposhta, meest, courier, pickup, other; empty: not agreed.",
    )
    point: str = Field(default="", max_length=10, description="branch or address.")
    city: str = Field(default="", max_length=100)
    branch: str = Field(default="", max_length=100)
    address: str = Field(default="", max_length=200)
    recipient_name: str = Field(default="", max_length=150)
    recipient_phone: PhoneText = ""


class OrderIn(Schema):
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    customer_id: Id | None = None
    customer: OrderCustomerIn | None = Field(
        default=None,
        description="Instead of customer_id: the customer this phone or email belongs to, "
        "or a new one.",
    )
    delivery: OrderDeliveryFieldsIn | None = None
    payment_method: str = Field(
        default="", max_length=20, description="card, cod, bank_transfer, cash, other."
    )
    manager_id: Id | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    discount: Amount = Field(default=Decimal("0"), ge=0)
    shipping: Amount = Field(default=Decimal("0"), ge=0)
    number: str | None = Field(default=None, max_length=40)
    status: ShortText | None = Field(
        default=None, description="Default: the pipeline's first status."
    )
    placed_at: Moment | None = None
    channel: str = Field(default="", max_length=40)
    source: str = Field(default="", max_length=100)
    external_ref: str | None = Field(
        default=None, max_length=100, description="The shop's id; a repeat returns the same order."
    )
    note: LongText = ""
    reserve_stock: bool = True


class OrderLinesIn(Schema):
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)


class OrderDeliveryIn(OrderDeliveryFieldsIn):
    payment_method: str | None = Field(default=None, max_length=20, description="None: unchanged.")
    shipping: Amount | None = Field(default=None, ge=0, description="None: unchanged.")
    note: LongText | None = Field(default=None, description="None: unchanged.")


class BulkStatusIn(Schema):
    order_ids: list[Id] = Field(min_length=1, max_length=500)
    status: str = Field(min_length=1, max_length=40)


class BulkRefusalOut(Schema):
    order_id: int
    number: str
    detail: str


class BulkStatusOut(Schema):
    moved: list[OrderOut]
    refused: list[BulkRefusalOut]


class OrderStatusIn(Schema):
    status: str = Field(min_length=1, max_length=40)
    note: str = Field(default="", max_length=300)


class PaymentIn(Schema):
    amount: Amount = Field(gt=0)
    method: ShortText
    status: ShortText = "paid"
    external_id: str | None = Field(default=None, max_length=100)
    paid_at: Moment | None = None


class RefundIn(Schema):
    amount: Amount = Field(gt=0)
    payment_id: Id | None = None
    external_id: str | None = Field(default=None, max_length=100)
    reason: str = Field(default="", max_length=300)


class ShipmentIn(Schema):
    carrier: str = Field(min_length=1, max_length=60)
    tracking_number: str = Field(default="", max_length=100)


class ShipmentStatusIn(Schema):
    status: ShortText
    note: str = Field(default="", max_length=300)
    occurred_at: Moment | None = None


class ReturnLineIn(Schema):
    order_line_id: Id
    quantity: Quantity


class ReturnIn(Schema):
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=500)
    reason: str = Field(default="", max_length=300)
    received: bool = Field(default=False, description="The goods are in hand: restock now.")
    restock: bool = True


# --- endpoints --------------------------------------------------------------------------------


_ORDER_FIELDS = [name for name in OrderOut.model_fields if name not in {"status", "status_label"}]


def _order_out(order: Order) -> dict[str, Any]:
    return {
        **{name: getattr(order, name) for name in _ORDER_FIELDS},
        "status": order.status_id,
        "status_label": order.status.label_display,
    }


def _detail(order_id: int) -> dict[str, Any]:
    card = selectors.order_detail(order_id=order_id, timeline_limit=0)
    if card is None:
        raise NotFound(field="order_id", message=_("No order with id %(id)s.") % {"id": order_id})
    return {
        **_order_out(card.order),
        "lines": card.lines,
        "payments": card.payments,
        "refunds": card.refunds,
        "shipments": card.shipments,
        "returns": card.returns,
        "next_statuses": [status.code for status in card.next_statuses],
        "received": card.received,
        "refunded": card.refunded,
    }


@router.get("", response=OrderPageOut, auth=requires_api("orders.view"))
def order_list(request: ApiRequest, filters: Query[OrderQuery]) -> dict[str, Any]:
    """Newest first; pass `next_cursor` back as `cursor` for the next page."""
    page = selectors.order_list(
        filters=filters.selection(), cursor=filters.cursor, limit=filters.limit
    )
    return {"items": [_order_out(order) for order in page.items], "next_cursor": page.next_cursor}


@router.get("/export", auth=requires_api("orders.view"), openapi_extra=EXPORT_RESPONSE)
def order_export(request: ApiRequest, filters: Query[OrderExportQuery]) -> StreamingHttpResponse:
    """The orders as a CSV (UTF-8 with a BOM) or XLSX file, with the list's filters.

    Streamed, and recorded in the log (`list.exported`). An unknown filter is a 422 naming it.
    """
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="orders",
        fmt=filters.format,
        filters=filters_known(request.GET, OrderExportQuery.model_fields),
        columns=selectors.ORDER_COLUMNS,
        rows=selectors.order_export_rows(filters.selection()),
    )


@router.get("/status-counts", response=list[StatusCountOut], auth=requires_api("orders.view"))
def order_status_counts(
    request: ApiRequest, filters: Query[StatusCountQuery]
) -> list[dict[str, Any]]:
    """How many orders are in each status under these filters: the list's tabs."""
    counts = selectors.order_status_counts(filters=filters.selection())
    return [
        {"status": status.code, "label": status.label_display, "count": counts.get(status.code, 0)}
        for status in selectors.statuses_all()
    ]


@router.post("/status", response=BulkStatusOut, auth=requires_api("orders.change"))
def orders_change_status_many(
    request: ApiRequest,
    payload: BulkStatusIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """Move many orders, each on its own: those the pipeline refuses are listed with why."""
    result = status_services.orders_change_status_many(
        order_ids=payload.order_ids,
        to_status=payload.status,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return {
        "moved": [_order_out(order) for order in result.moved],
        "refused": [
            {"order_id": r.order_id, "number": r.number, "detail": r.message}
            for r in result.refused
        ],
    }


class StatusIn(Schema):
    code: str = Field(min_length=1, max_length=40, description="Latin letters, digits, - and _.")
    label: str = Field(min_length=1, max_length=80)
    category: ShortText = Field(
        description="new, confirmed, processing, shipped, delivered, "
        "cancelled or returned: what entering the status does."
    )
    position: int | None = Field(default=None, ge=0, le=1000)
    is_final: bool = False
    editable: bool = Field(default=False, description="Lines and delivery can still change.")


class PipelineTransitionIn(Schema):
    from_status: ShortText
    to_status: ShortText


def _pipeline_out() -> dict[str, Any]:
    pipeline = selectors.pipeline_get()
    return {
        "statuses": pipeline.statuses,
        "transitions": [
            {"from_status": t.from_status_id, "to_status": t.to_status_id}
            for t in pipeline.transitions
        ],
    }


@router.get("/pipeline", response=PipelineOut, auth=requires_api("orders.view"))
def pipeline_get(request: ApiRequest) -> dict[str, Any]:
    return _pipeline_out()


@router.post(
    "/pipeline/statuses", response={201: PipelineOut}, auth=requires_api(PIPELINE_PERMISSION)
)
def order_status_create(request: ApiRequest, payload: StatusIn) -> Status[dict[str, Any]]:
    pipeline_services.order_status_create(**payload.dict(), actor=request.auth)
    return Status(201, _pipeline_out())


class StatusPatch(Schema):
    label: str | None = Field(default=None, min_length=1, max_length=80)
    position: int | None = Field(default=None, ge=0, le=1000)
    is_final: bool | None = None
    editable: bool | None = None


@router.patch(
    "/pipeline/statuses/{code}", response=PipelineOut, auth=requires_api(PIPELINE_PERMISSION)
)
def order_status_update(
    request: ApiRequest, code: StatusCode, payload: StatusPatch
) -> dict[str, Any]:
    """Rename, reorder, mark final or editable; the code and category stay."""
    pipeline_services.order_status_update(
        code=code,
        **payload.dict(exclude_unset=True),
        actor=request.auth,
    )
    return _pipeline_out()


@router.delete(
    "/pipeline/statuses/{code}", response=PipelineOut, auth=requires_api(PIPELINE_PERMISSION)
)
def order_status_delete(request: ApiRequest, code: StatusCode) -> dict[str, Any]:
    """Refused (409) while any order is in the status."""
    pipeline_services.order_status_delete(code=code, actor=request.auth)
    return _pipeline_out()


@router.post(
    "/pipeline/transitions", response={201: PipelineOut}, auth=requires_api(PIPELINE_PERMISSION)
)
def order_transition_add(
    request: ApiRequest, payload: PipelineTransitionIn
) -> Status[dict[str, Any]]:
    pipeline_services.order_transition_add(**payload.dict(), actor=request.auth)
    return Status(201, _pipeline_out())


@router.delete(
    "/pipeline/transitions/{from_status}/{to_status}",
    response=PipelineOut,
    auth=requires_api(PIPELINE_PERMISSION),
)
def order_transition_remove(
    request: ApiRequest, from_status: StatusCode, to_status: StatusCode
) -> dict[str, Any]:
    pipeline_services.order_transition_remove(
        from_status=from_status,
        to_status=to_status,
        actor=request.auth,
    )
    return _pipeline_out()


@router.get("/{int:order_id}", response=OrderDetailOut, auth=requires_api("orders.view"))
def order_detail(request: ApiRequest, order_id: PathId) -> dict[str, Any]:
    return _detail(order_id)


@router.post("", response={201: OrderDetailOut}, auth=requires_api("orders.change"))
def order_create(
    request: ApiRequest,
    payload: OrderIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[dict[str, Any]]:
    """Place an order; stock is reserved for every line or the order is refused (409)."""
    data = payload.dict(exclude={"lines", "customer", "delivery"})
    order = taking_services.order_create(
        **data,
        lines=[line_services.OrderLineIn(**line.dict()) for line in payload.lines],
        customer=taking_services.CustomerIn(**payload.customer.dict())
        if payload.customer
        else None,
        delivery=line_services.DeliveryIn(**payload.delivery.dict()) if payload.delivery else None,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _detail(order.pk))


@router.put("/{int:order_id}/lines", response=OrderDetailOut, auth=requires_api("orders.change"))
def order_lines_set(
    request: ApiRequest,
    order_id: PathId,
    payload: OrderLinesIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """Replace the lines while the order's status is editable (else 409, code not_editable);
    stock follows the difference. Give each kept line its `unit_price` to keep its price."""
    editing_services.order_lines_set(
        order_id=order_id,
        lines=[line_services.OrderLineIn(**line.dict()) for line in payload.lines],
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return _detail(order_id)


@router.put("/{int:order_id}/delivery", response=OrderDetailOut, auth=requires_api("orders.change"))
def order_delivery_set(
    request: ApiRequest,
    order_id: PathId,
    payload: OrderDeliveryIn,
    idempotency_key: str | None = idempotency_header(),
) -> dict[str, Any]:
    """The delivery (replaced whole), and the payment method, shipping and note if given,
    while the order's status is editable."""
    extra = payload.dict(include={"payment_method", "shipping", "note"})
    editing_services.order_delivery_set(
        order_id=order_id,
        delivery=line_services.DeliveryIn(**payload.dict(exclude=set(extra))),
        **extra,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return _detail(order_id)


@router.post("/{int:order_id}/status", response=OrderOut, auth=requires_api("orders.change"))
def order_change_status(
    request: ApiRequest,
    order_id: PathId,
    payload: OrderStatusIn,
    idempotency_key: str = idempotency_header(required=True),
) -> dict[str, Any]:
    """Move the order along the pipeline; a move it does not allow is a 409 on `status`."""
    order = status_services.order_change_status(
        order_id=order_id,
        to_status=payload.status,
        note=payload.note,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return _order_out(order)


@router.post(
    "/{int:order_id}/payments", response={201: PaymentOut}, auth=requires_api("orders.change")
)
def payment_record(
    request: ApiRequest,
    order_id: PathId,
    payload: PaymentIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Payment]:
    """Record a payment; with a known `external_id` it updates that payment's status."""
    payment = payment_services.payment_record(
        order_id=order_id,
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, payment)


@router.post(
    "/{int:order_id}/refunds", response={201: RefundOut}, auth=requires_api("orders.change")
)
def refund_record(
    request: ApiRequest,
    order_id: PathId,
    payload: RefundIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Refund]:
    refund = payment_services.refund_record(
        order_id=order_id,
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, refund)


@router.post(
    "/{int:order_id}/shipments", response={201: ShipmentOut}, auth=requires_api("orders.change")
)
def shipment_create(
    request: ApiRequest,
    order_id: PathId,
    payload: ShipmentIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Shipment]:
    shipment = shipment_services.shipment_create(
        order_id=order_id,
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, shipment)


@router.post(
    "/shipments/{int:shipment_id}/status", response=ShipmentOut, auth=requires_api("orders.change")
)
def shipment_update_status(
    request: ApiRequest,
    shipment_id: PathId,
    payload: ShipmentStatusIn,
    idempotency_key: str | None = idempotency_header(),
) -> Shipment:
    """A carrier status; delivered (or in transit) moves the order where the pipeline allows."""
    return shipment_services.shipment_update_status(
        shipment_id=shipment_id,
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )


@router.post(
    "/{int:order_id}/returns", response={201: ReturnOut}, auth=requires_api("orders.change")
)
def return_create(
    request: ApiRequest,
    order_id: PathId,
    payload: ReturnIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[Return]:
    ret = return_services.return_create(
        order_id=order_id,
        lines=[return_services.ReturnLineIn(**line.dict()) for line in payload.lines],
        reason=payload.reason,
        received=payload.received,
        restock=payload.restock,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, ret)


@router.post(
    "/returns/{int:return_id}/receive", response=ReturnOut, auth=requires_api("orders.change")
)
def return_receive(
    request: ApiRequest,
    return_id: PathId,
    idempotency_key: str | None = idempotency_header(),
) -> Return:
    return return_services.return_receive(
        return_id=return_id,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
