"""Order pages: thin htmx views over the order services and selectors.

Every change posts a form with a hidden form_token (a UUID), sent to the
service as the idempotency key `ui:<token>`: a double click changes once.
Every change answers with the order card partial; a refusal re-renders it
with the error and status 422.

(Over 600 lines: one short view per change an order card offers, sharing the card
partial's refusal and idempotency helpers; each view is a few lines.)
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.business.selectors import business_get
from procedo.catalog import selectors as catalog_selectors
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.customers import selectors as customer_selectors
from procedo.customers.models import Customer
from procedo.orders import selectors
from procedo.orders.forms import (
    BulkStatusForm,
    DeliveryEditForm,
    DeliveryForm,
    LineRow,
    OrderCreateForm,
    OrderFilterForm,
    OrderLinesForm,
    OrderStatusForm,
    PaymentForm,
    RefundForm,
    ShipmentForm,
    ShipmentStatusForm,
    StatusCreateForm,
    TransitionForm,
    delivery_initial,
    rows_of,
)
from procedo.orders.forms import manager_choices as form_manager_choices
from procedo.orders.models import Shipment
from procedo.orders.permissions import PIPELINE_PERMISSION
from procedo.orders.services import editing as editing_services
from procedo.orders.services import payments as payment_services
from procedo.orders.services import pipeline as pipeline_services
from procedo.orders.services import shipments as shipment_services
from procedo.orders.services import statuses as status_services
from procedo.orders.services import taking as taking_services


def _key(form: forms.Form) -> str:
    return f"ui:{form.cleaned_data['form_token']}"


def _query(params: QueryDict, **changes: str | None) -> str:
    """The list's query string with some parameters changed (None drops one)."""
    query = params.copy()
    query.pop("cursor", None)
    for name, value in changes.items():
        query.pop(name, None)
        if value:
            query[name] = value
    return query.urlencode()


# The list's own filters (not the tab, not a card's customer link): "Clear" shows when set.
LIST_FILTERS = ("q", "customer", "manager", "placed_from", "placed_to", "amount_min", "amount_max")


@requires("orders.view")
def order_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = OrderFilterForm(request.GET or None)
    chosen = filters.filters()
    try:
        page = selectors.order_list(
            filters=chosen, cursor=request.GET.get("cursor") or None, limit=50
        )
    except DomainError:  # a stale or hand-edited cursor: start from the top
        page = selectors.order_list(filters=chosen, limit=50)
    if request.htmx:
        context = {
            "page": page,
            "filter_query": _query(request.GET),
            "can_change": user_can(request.user, "orders.change"),
        }
        return render(request, "orders/order_list.html#rows", context)
    counts = selectors.order_status_counts(filters=chosen)
    tabs = [
        {
            "label": _("All"),
            "count": sum(counts.values()),
            "active": not chosen.status,
            "query": _query(request.GET, status=None),
        }
    ] + [
        {
            "label": status.label_display,
            "count": counts.get(status.code, 0),
            "active": chosen.status == status.code,
            "query": _query(request.GET, status=status.code),
        }
        for status in selectors.statuses_all()
    ]
    customer = None
    if chosen.customer_id is not None:
        try:
            customer = customer_selectors.customer_get(customer_id=chosen.customer_id)
        except DomainError:
            customer = None
    context = {
        "filters": filters,
        "page": page,
        "tabs": tabs,
        "customer": customer,
        "filter_query": _query(request.GET),
        "without_customer": _query(request.GET, customer_id=None),
        "filtering": any(request.GET.get(name) for name in LIST_FILTERS),
        "can_configure": user_can(request.user, PIPELINE_PERMISSION),
        "can_change": user_can(request.user, "orders.change"),
        "bulk_form": BulkStatusForm(),
    }
    return render(request, "orders/order_list.html", context)


def _back_to_list(request: HtmxHttpRequest) -> str:
    """Where a bulk change returns: the list as the person left it (a local path only)."""
    back = request.POST.get("next", "")
    if back.startswith("/") and url_has_allowed_host_and_scheme(
        back, allowed_hosts={request.get_host()}
    ):
        return back
    return reverse("orders:list")


@require_POST
@requires("orders.change")
def orders_change_status_many(request: HtmxHttpRequest) -> HttpResponse:
    form = BulkStatusForm(request.POST)
    back = _back_to_list(request)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(back)
    ids, status = form.cleaned_data["order"], form.cleaned_data["status"]
    if status in selectors.delivered_statuses() and not form.cleaned_data["confirmed"]:
        movable = selectors.orders_allowed_to(order_ids=ids, to_status=status)
        gaps = selectors.delivery_gaps(order_ids=[pk for pk in ids if pk in movable])
        if gaps:
            context = {
                "form": form,
                "ids": ids,
                "status": selectors.status_get(code=status),
                "gaps": selectors.orders_with_gaps(gaps=gaps),
                "back": back,
            }
            return render(request, "orders/bulk_confirm.html", context)
    result = status_services.orders_change_status_many(
        order_ids=ids, to_status=status, actor=request.user, idempotency_key=_key(form)
    )
    if result.moved:
        label = result.moved[0].status.label_display
        messages.success(
            request,
            ngettext(
                "%(n)s order moved to %(status)s.",
                "%(n)s orders moved to %(status)s.",
                len(result.moved),
            )
            % {"n": len(result.moved), "status": label},
        )
    for refusal in result.refused:
        messages.error(
            request,
            _("Order #%(number)s: %(why)s") % {"number": refusal.number, "why": refusal.message},
        )
    return redirect(back)


def _card(
    request: HtmxHttpRequest,
    order_id: int,
    *,
    status: int = 200,
    status_form: OrderStatusForm | None = None,
    confirm: dict[str, Any] | None = None,
    payment_form: PaymentForm | None = None,
    refund_form: RefundForm | None = None,
    shipment_form: ShipmentForm | None = None,
    shipment_status: tuple[int, ShipmentStatusForm] | None = None,
) -> HttpResponse:
    card = selectors.order_detail(order_id=order_id)
    if card is None:
        raise Http404
    shipments = [
        {
            "shipment": shipment,
            "form": shipment_status[1]
            if shipment_status and shipment_status[0] == shipment.pk
            else ShipmentStatusForm(initial={"status": shipment.status}),
        }
        for shipment in card.shipments
    ]
    context: dict[str, Any] = {
        "card": card,
        "order": card.order,
        "shipments": shipments,
        "status_form": status_form or OrderStatusForm(),
        "payment_form": payment_form
        or PaymentForm(initial={"amount": max(card.balance_due, 0) or None}),
        "refund_form": refund_form or RefundForm(),
        "shipment_form": shipment_form
        or ShipmentForm(initial={"carrier": card.order.get_delivery_carrier_display()}),
        "can_change": user_can(request.user, "orders.change"),
        "confirm": confirm,
    }
    template = "orders/order_detail.html"
    if request.htmx:
        template += "#order-card"
    return render(request, template, context, status=status)


@requires("orders.view")
def order_detail(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    return _card(request, order_id)


@require_POST
@requires("orders.change")
def order_change_status(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    form = OrderStatusForm(request.POST)
    if form.is_valid():
        to_status = form.cleaned_data["status"]
        if (
            to_status in selectors.delivered_statuses()
            and not form.cleaned_data["confirmed"]
            and selectors.orders_allowed_to(order_ids=[order_id], to_status=to_status)
        ):
            missing = selectors.delivery_gaps(order_ids=[order_id]).get(order_id)
            if missing:
                confirm = {"status": selectors.status_get(code=to_status), "missing": missing}
                return _card(request, order_id, status_form=form, confirm=confirm)
        try:
            status_services.order_change_status(
                order_id=order_id,
                to_status=form.cleaned_data["status"],
                actor=request.user,
                idempotency_key=_key(form),
            )
            form = OrderStatusForm()  # a fresh token for the next change
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card(request, order_id, status=422 if form.errors else 200, status_form=form)


@require_POST
@requires("orders.change")
def payment_record(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            payment_services.payment_record(
                order_id=order_id,
                amount=form.cleaned_data["amount"],
                method=form.cleaned_data["method"],
                status=form.cleaned_data["status"],
                external_id=form.cleaned_data["external_id"] or None,
                actor=request.user,
                idempotency_key=_key(form),
            )
            return _card(request, order_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card(request, order_id, status=422, payment_form=form)


@require_POST
@requires("orders.change")
def refund_record(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            payment_services.refund_record(
                order_id=order_id,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                actor=request.user,
                idempotency_key=_key(form),
            )
            return _card(request, order_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card(request, order_id, status=422, refund_form=form)


@require_POST
@requires("orders.change")
def shipment_create(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    form = ShipmentForm(request.POST)
    if form.is_valid():
        try:
            shipment_services.shipment_create(
                order_id=order_id,
                carrier=form.cleaned_data["carrier"],
                tracking_number=form.cleaned_data["tracking_number"],
                actor=request.user,
                idempotency_key=_key(form),
            )
            return _card(request, order_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card(request, order_id, status=422, shipment_form=form)


@require_POST
@requires("orders.change")
def shipment_update_status(request: HtmxHttpRequest, shipment_id: int) -> HttpResponse:
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise Http404
    form = ShipmentStatusForm(request.POST)
    if form.is_valid():
        try:
            shipment_services.shipment_update_status(
                shipment_id=shipment_id,
                status=form.cleaned_data["status"],
                note=form.cleaned_data["note"],
                actor=request.user,
                idempotency_key=_key(form),
            )
            return _card(request, order_id)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
    return _card(request, order_id, status=422, shipment_status=(shipment_id, form))


# --- taking and editing orders -----------------------------------------------------------------


def _rows_with_skus(rows: list[LineRow], *, held: dict[int, int] | None = None) -> list[LineRow]:
    """Give each row its SKU (name, price, stock) for showing: one query for all. The stock
    an order being edited holds already counts as available to it (`held`)."""
    ids = [int(row.sku_id) for row in rows if row.sku_id.isdigit()]
    skus = catalog_selectors.skus_by_ids(ids=ids) if ids else {}
    for row in rows:
        row.sku = skus.get(int(row.sku_id)) if row.sku_id.isdigit() else None
        if row.sku is not None:
            row.available = row.sku.available + (held or {}).get(row.sku.pk, 0)
    return rows


def _order_id_posted(request: HtmxHttpRequest) -> int | None:
    """The order an edit page's request is about (the totals, a new line's stock)."""
    raw = (request.POST if request.method == "POST" else request.GET).get("order", "")[:19]
    return int(raw) if raw.isdigit() else None


def _refuse(exc: DomainError, form: forms.Form, lines_form: OrderLinesForm | None = None) -> None:
    """Put a service's refusal next to the field that shows it."""
    if lines_form is not None and (exc.field.startswith("lines") or exc.field == "discount"):
        lines_form.refusal(exc.field, exc.message)
        return
    names: dict[str, str] = getattr(form, "REFUSAL_FIELDS", {})
    refusal_add(form, names.get(exc.field, exc.field), exc.message)


def _form_page(
    request: HtmxHttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    lines_form: OrderLinesForm = context["lines_form"]
    order = context.get("order")
    _rows_with_skus(
        lines_form.rows, held=selectors.stock_held(order_id=order.pk) if order else None
    )
    context.setdefault("currency", business_get().currency)
    return render(request, template, context, status=status)


def _customer_of(customer_id: int | None) -> Customer | None:
    if customer_id is None:
        return None
    try:
        customer = customer_selectors.customer_get(customer_id=customer_id)
    except DomainError:
        return None
    return customer if customer.merged_into_id is None else None


@requires("orders.change")
def order_create(request: HtmxHttpRequest) -> HttpResponse:
    """A new order taken by phone or from a message: a customer, lines, delivery, payment."""
    if request.method == "POST":
        form = OrderCreateForm(request.POST)
        lines_form = OrderLinesForm(request.POST)
        valid = form.is_valid()
        valid = lines_form.is_valid() and valid
        if valid:
            data = form.cleaned_data
            customer_id = data["customer_id"]
            try:
                order = taking_services.order_create(
                    lines=lines_form.lines(),
                    customer_id=customer_id,
                    customer=None
                    if customer_id
                    else taking_services.CustomerIn(
                        phone=data["phone"],
                        email=data["email"],
                        first_name=data["first_name"],
                        last_name=data["last_name"],
                    ),
                    delivery=form.delivery(),
                    payment_method=data["payment_method"],
                    shipping=data["shipping"] or Decimal("0"),
                    note=data["note"],
                    channel=data["channel"],
                    source=data["source"],
                    manager_id=data["manager"],
                    actor=request.user,
                    idempotency_key=_key(form),
                )
            except DomainError as exc:
                _refuse(exc, form, lines_form)
            else:
                messages.success(request, _("Order #%(n)s is saved.") % {"n": order.number})
                return redirect("orders:detail", order.pk)
        customer = _customer_of(form.cleaned_data.get("customer_id") if valid else None)
        if customer is None and form.data.get("customer_id", "").isdigit():
            customer = _customer_of(int(form.data["customer_id"]))
        context = {"form": form, "lines_form": lines_form, "customer": customer}
        return _form_page(request, "orders/order_form.html", context, status=422)

    customer = None
    if request.GET.get("customer", "").isdigit():
        customer = _customer_of(int(request.GET["customer"][:19]))
    managers = {pk for pk, _label in form_manager_choices()}
    form = OrderCreateForm(
        initial={
            "customer_id": customer.pk if customer else None,
            "manager": request.user.pk if request.user.pk in managers else None,
        }
    )
    context = {"form": form, "lines_form": OrderLinesForm(rows=[]), "customer": customer}
    return _form_page(request, "orders/order_form.html", context)


@requires("orders.change")
def customer_lookup(request: HtmxHttpRequest) -> HttpResponse:
    """Who a phone typed on the order form belongs to, as the person types it."""
    raw = request.GET.get("phone", "")[:40].strip()
    context: dict[str, Any] = {"phone": raw, "customer": None, "invalid": False}
    if sum(ch.isdigit() for ch in raw) >= 7:
        try:
            context["customer"] = customer_selectors.customer_find(phone=raw)
        except DomainError:
            context["invalid"] = True
    elif raw:
        context["invalid"] = True
    return render(request, "orders/_customer_found.html", context)


@requires("orders.change")
def sku_search(request: HtmxHttpRequest) -> HttpResponse:
    """SKUs to add to an order, by code or name, with their stock."""
    query = request.GET.get("sku_q", "")[:100]
    held = selectors.stock_held(order_id=_order_id_posted(request))
    skus = catalog_selectors.skus_for_sale(query=query, limit=10)
    context = {
        "found": [(sku, sku.available + held.get(sku.pk, 0)) for sku in skus],
        "query": query,
    }
    return render(request, "orders/_sku_results.html", context)


@requires("orders.change")
def line_row(request: HtmxHttpRequest) -> HttpResponse:
    """One more line for the order form: the SKU chosen in the search, quantity 1."""
    sku_id = request.GET.get("sku", "")[:19]
    row = LineRow(sku_id=sku_id if sku_id.isdigit() else "")
    _rows_with_skus([row], held=selectors.stock_held(order_id=_order_id_posted(request)))
    if row.sku is None:
        raise Http404
    context = {"row": row, "currency": business_get().currency, "clear_search": True}
    return render(request, "orders/_line_row.html", context)


@require_POST
@requires("orders.change")
def order_preview(request: HtmxHttpRequest) -> HttpResponse:
    """The totals of the order form as it stands; refreshed on every change."""
    held = selectors.stock_held(order_id=_order_id_posted(request))
    rows = _rows_with_skus(OrderLinesForm(request.POST).rows)
    delivery = DeliveryForm(request.POST)
    charge = delivery.cleaned_data.get("shipping") if delivery.is_valid() else None
    currency = request.POST.get("currency", "")[:3] or business_get().currency
    preview = selectors.order_preview(
        lines=[row.preview_line() for row in rows],
        shipping=charge or Decimal("0"),
        currency=currency,
        held=held,
    )
    return render(request, "orders/_order_summary.html", {"preview": preview})


def _edit_page(
    request: HtmxHttpRequest,
    order_id: int,
    *,
    lines_form: OrderLinesForm | None = None,
    delivery_form: DeliveryEditForm | None = None,
    status: int = 200,
) -> HttpResponse:
    order = selectors.order_for_edit(order_id=order_id)
    if order is None:
        raise Http404
    if lines_form is None:
        lines_form = OrderLinesForm(rows=rows_of(order))
    if delivery_form is None:
        delivery_form = DeliveryEditForm(initial=delivery_initial(order))
    context = {
        "order": order,
        "lines_form": lines_form,
        "delivery_form": delivery_form,
        "currency": order.currency,
    }
    return _form_page(request, "orders/order_edit.html", context, status=status)


@requires("orders.change")
def order_edit(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    return _edit_page(request, order_id)


@require_POST
@requires("orders.change")
def order_lines_set(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    lines_form = OrderLinesForm(request.POST)
    if lines_form.is_valid():
        try:
            order = editing_services.order_lines_set(
                order_id=order_id,
                lines=lines_form.lines(),
                actor=request.user,
                idempotency_key=_key(lines_form),
            )
        except DomainError as exc:
            if exc.field == "status":
                lines_form.lines_errors.append(exc.message)
            else:
                lines_form.refusal(exc.field, exc.message)
        else:
            messages.success(
                request, _("The lines of order #%(n)s are saved.") % {"n": order.number}
            )
            return redirect("orders:detail", order.pk)
    return _edit_page(request, order_id, lines_form=lines_form, status=422)


@require_POST
@requires("orders.change")
def order_delivery_set(request: HtmxHttpRequest, order_id: int) -> HttpResponse:
    form = DeliveryEditForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            order = editing_services.order_delivery_set(
                order_id=order_id,
                delivery=form.delivery(),
                payment_method=data["payment_method"],
                shipping=data["shipping"] if data["shipping"] is not None else None,
                note=data["note"],
                actor=request.user,
                idempotency_key=_key(form),
            )
        except DomainError as exc:
            _refuse(exc, form)
        else:
            messages.success(
                request, _("The delivery of order #%(n)s is saved.") % {"n": order.number}
            )
            return redirect("orders:detail", order.pk)
    return _edit_page(request, order_id, delivery_form=form, status=422)


# --- the pipeline editor ----------------------------------------------------------------------


def _pipeline_page(
    request: HtmxHttpRequest,
    *,
    status_form: StatusCreateForm | None = None,
    transition_form: TransitionForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "pipeline": selectors.pipeline_get(),
        "status_form": status_form or StatusCreateForm(),
        "transition_form": transition_form or TransitionForm(),
    }
    return render(request, "orders/pipeline.html", context, status=status)


@requires(PIPELINE_PERMISSION)
def pipeline(request: HtmxHttpRequest) -> HttpResponse:
    return _pipeline_page(request)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_status_create(request: HtmxHttpRequest) -> HttpResponse:
    form = StatusCreateForm(request.POST)
    if form.is_valid():
        try:
            pipeline_services.order_status_create(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Status added."))
            return redirect("orders:pipeline")
    return _pipeline_page(request, status_form=form, status=422)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_status_update(request: HtmxHttpRequest, code: str) -> HttpResponse:
    """The pipeline page's switch: whether orders in this status can still be edited."""
    try:
        status = pipeline_services.order_status_update(
            code=code, editable=request.POST.get("editable") == "1", actor=request.user
        )
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            (
                _("Orders in %(label)s can be edited.")
                if status.editable
                else _("Orders in %(label)s can no longer be edited.")
            )
            % {"label": status.label_display},
        )
    return redirect("orders:pipeline")


@require_POST
@requires(PIPELINE_PERMISSION)
def order_status_delete(request: HtmxHttpRequest, code: str) -> HttpResponse:
    try:
        pipeline_services.order_status_delete(code=code, actor=request.user)
        messages.success(request, _("Status removed."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("orders:pipeline")


@require_POST
@requires(PIPELINE_PERMISSION)
def order_transition_add(request: HtmxHttpRequest) -> HttpResponse:
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            pipeline_services.order_transition_add(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Move allowed."))
            return redirect("orders:pipeline")
    return _pipeline_page(request, transition_form=form, status=422)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_transition_remove(request: HtmxHttpRequest) -> HttpResponse:
    pipeline_services.order_transition_remove(
        from_status=request.POST.get("from_status", ""),
        to_status=request.POST.get("to_status", ""),
        actor=request.user,
    )
    messages.success(request, _("Move removed."))
    return redirect("orders:pipeline")
