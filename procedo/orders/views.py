"""Order pages: thin htmx views over the order services and selectors.

Every change posts a form with a hidden form_token (a UUID), sent to the
service as the idempotency key `ui:<token>`: a double click changes once.
Every change answers with the order card partial; a refusal re-renders it
with the error and status 422.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.orders import selectors, services
from procedo.orders.forms import (
    OrderFilterForm,
    OrderStatusForm,
    PaymentForm,
    RefundForm,
    ShipmentForm,
    ShipmentStatusForm,
    StatusCreateForm,
    TransitionForm,
)
from procedo.orders.models import Shipment
from procedo.orders.permissions import PIPELINE_PERMISSION


def _key(form: forms.Form) -> str:
    return f"ui:{form.cleaned_data['form_token']}"


@requires("orders.view")
def order_list(request: HttpRequest) -> HttpResponse:
    filters = OrderFilterForm(request.GET or None)
    try:
        page = selectors.order_list(
            filters=filters.filters(), cursor=request.GET.get("cursor") or None, limit=50
        )
    except DomainError:  # a stale or hand-edited cursor: start from the top
        page = selectors.order_list(filters=filters.filters(), limit=50)
    params = request.GET.copy()
    params.pop("cursor", None)
    context = {
        "filters": filters,
        "page": page,
        "filter_query": params.urlencode(),
        "can_configure": user_can(request.user, PIPELINE_PERMISSION),
    }
    template = "orders/order_list.html#rows" if request.htmx else "orders/order_list.html"  # type: ignore[attr-defined]
    return render(request, template, context)


def _card(
    request: HttpRequest,
    order_id: int,
    *,
    status: int = 200,
    status_form: OrderStatusForm | None = None,
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
        "shipment_form": shipment_form or ShipmentForm(),
        "can_change": user_can(request.user, "orders.change"),
    }
    template = "orders/order_detail.html"
    if request.htmx:  # type: ignore[attr-defined]
        template += "#order-card"
    return render(request, template, context, status=status)


@requires("orders.view")
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    return _card(request, order_id)


@require_POST
@requires("orders.change")
def order_change_status(request: HttpRequest, order_id: int) -> HttpResponse:
    form = OrderStatusForm(request.POST)
    if form.is_valid():
        try:
            services.order_change_status(
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
def payment_record(request: HttpRequest, order_id: int) -> HttpResponse:
    form = PaymentForm(request.POST)
    if form.is_valid():
        try:
            services.payment_record(
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
def refund_record(request: HttpRequest, order_id: int) -> HttpResponse:
    form = RefundForm(request.POST)
    if form.is_valid():
        try:
            services.refund_record(
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
def shipment_create(request: HttpRequest, order_id: int) -> HttpResponse:
    form = ShipmentForm(request.POST)
    if form.is_valid():
        try:
            services.shipment_create(
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
def shipment_update_status(request: HttpRequest, shipment_id: int) -> HttpResponse:
    order_id = Shipment.objects.filter(pk=shipment_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise Http404
    form = ShipmentStatusForm(request.POST)
    if form.is_valid():
        try:
            services.shipment_update_status(
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


# --- the pipeline editor ----------------------------------------------------------------------


def _pipeline_page(
    request: HttpRequest,
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
def pipeline(request: HttpRequest) -> HttpResponse:
    return _pipeline_page(request)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_status_create(request: HttpRequest) -> HttpResponse:
    form = StatusCreateForm(request.POST)
    if form.is_valid():
        try:
            services.order_status_create(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Status added."))
            return redirect("orders:pipeline")
    return _pipeline_page(request, status_form=form, status=422)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_status_delete(request: HttpRequest, code: str) -> HttpResponse:
    try:
        services.order_status_delete(code=code, actor=request.user)
        messages.success(request, _("Status removed."))
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("orders:pipeline")


@require_POST
@requires(PIPELINE_PERMISSION)
def order_transition_add(request: HttpRequest) -> HttpResponse:
    form = TransitionForm(request.POST)
    if form.is_valid():
        try:
            services.order_transition_add(**form.cleaned_data, actor=request.user)
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            messages.success(request, _("Move allowed."))
            return redirect("orders:pipeline")
    return _pipeline_page(request, transition_form=form, status=422)


@require_POST
@requires(PIPELINE_PERMISSION)
def order_transition_remove(request: HttpRequest) -> HttpResponse:
    services.order_transition_remove(
        from_status=request.POST.get("from_status", ""),
        to_status=request.POST.get("to_status", ""),
        actor=request.user,
    )
    messages.success(request, _("Move removed."))
    return redirect("orders:pipeline")
