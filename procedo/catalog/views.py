"""Catalog pages: thin views over the catalog services and selectors."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.business.selectors import business_get
from procedo.catalog import selectors, services
from procedo.catalog.forms import (
    ProductFilterForm,
    ProductForm,
    SkuCreateForm,
    SkuUpdateForm,
    StockAdjustForm,
)
from procedo.core.errors import DomainError
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import filters_valid, refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.events.exports import export_stream


def _list_context(
    request: HtmxHttpRequest, create_form: ProductForm | None = None
) -> dict[str, Any]:
    filters = ProductFilterForm(request.GET or None)
    query = filters.cleaned_data.get("q", "") if filters.is_valid() else ""
    try:
        page = selectors.product_list(
            query=query,
            active=filters.active_value(),
            cursor=request.GET.get("cursor") or None,
            limit=50,
        )
    except DomainError:  # a stale or hand-edited cursor: start from the top
        page = selectors.product_list(query=query, active=filters.active_value(), limit=50)
    params = request.GET.copy()
    params.pop("cursor", None)
    return {
        "filters": filters,
        "page": page,
        "filter_query": params.urlencode(),
        "create_form": create_form or ProductForm(),
        "can_change": user_can(request.user, "catalog.change"),
    }


@requires("catalog.view")
def products(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "catalog/product_list.html", _list_context(request))


@requires("catalog.view")
def product_export(request: HtmxHttpRequest) -> StreamingHttpResponse:
    """The products with their stock as a file (`?format=csv|xlsx`), with the page's filters."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, ProductFilterForm.base_fields)
    filters = ProductFilterForm(request.GET)
    filters_valid(filters)
    return export_stream(
        request=request,
        actor=request.user,
        list_name="products",
        fmt=fmt,
        filters=applied,
        columns=selectors.PRODUCT_COLUMNS,
        rows=selectors.product_export_rows(
            query=filters.cleaned_data["q"], active=filters.active_value()
        ),
    )


@require_POST
@requires("catalog.change")
def product_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ProductForm(request.POST)
    if form.is_valid():
        try:
            product = services.product_create(
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                active=form.cleaned_data["active"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            return redirect("catalog:product", product_id=product.pk)
    return render(request, "catalog/product_list.html", _list_context(request, form), status=422)


def _card_context(
    request: HtmxHttpRequest,
    product_id: int,
    *,
    product_form: ProductForm | None = None,
    sku_form: SkuCreateForm | None = None,
    adjust: tuple[int, StockAdjustForm] | None = None,
    sku_edit: tuple[int, SkuUpdateForm] | None = None,
) -> dict[str, Any]:
    card = selectors.product_detail(product_id=product_id)
    if card is None:
        raise Http404
    product = card.product
    rows = []
    for sku in card.skus:
        adjust_form = (
            adjust[1]
            if adjust and adjust[0] == sku.pk
            else StockAdjustForm(initial={"counted": sku.on_hand})
        )
        edit_form = (
            sku_edit[1]
            if sku_edit and sku_edit[0] == sku.pk
            else SkuUpdateForm(
                initial={
                    "name": sku.name,
                    "price": sku.price,
                    "allow_backorder": sku.allow_backorder,
                    "active": sku.active,
                }
            )
        )
        rows.append({"sku": sku, "adjust_form": adjust_form, "edit_form": edit_form})
    return {
        "card": card,
        "product": product,
        "rows": rows,
        "product_form": product_form
        or ProductForm(
            initial={
                "name": product.name,
                "description": product.description,
                "category": product.category,
                "active": product.active,
            }
        ),
        "sku_form": sku_form or SkuCreateForm(initial={"currency": business_get().currency}),
        "can_change": user_can(request.user, "catalog.change"),
    }


def _stock_card(
    request: HtmxHttpRequest, product_id: int, status: int, **forms: Any
) -> HttpResponse:
    context = _card_context(request, product_id, **forms)
    template = "catalog/product_detail.html"
    if request.htmx:
        template += "#stock-card"
    return render(request, template, context, status=status)


def _changed(request: HtmxHttpRequest, product_id: int) -> HttpResponse:
    """After a change: htmx gets the fresh stock card, a plain form post a redirect (PRG)."""
    if request.htmx:
        return _stock_card(request, product_id, 200)
    return redirect("catalog:product", product_id=product_id)


@requires("catalog.view")
def product(request: HtmxHttpRequest, product_id: int) -> HttpResponse:
    return _stock_card(request, product_id, 200)


@require_POST
@requires("catalog.change")
def product_update(request: HtmxHttpRequest, product_id: int) -> HttpResponse:
    form = ProductForm(request.POST)
    if form.is_valid():
        try:
            services.product_update(
                product_id=product_id,
                name=form.cleaned_data["name"],
                description=form.cleaned_data["description"],
                category=form.cleaned_data["category"],
                active=form.cleaned_data["active"],
                actor=request.user,
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            return redirect("catalog:product", product_id=product_id)
    return render(
        request,
        "catalog/product_detail.html",
        _card_context(request, product_id, product_form=form),
        status=422,
    )


@require_POST
@requires("catalog.change")
def sku_create(request: HtmxHttpRequest, product_id: int) -> HttpResponse:
    form = SkuCreateForm(request.POST)
    if form.is_valid():
        try:
            services.sku_create(
                product_id=product_id,
                code=form.cleaned_data["code"],
                name=form.cleaned_data["name"],
                price=form.cleaned_data["price"],
                currency=form.cleaned_data["currency"],
                allow_backorder=form.cleaned_data["allow_backorder"],
                on_hand=form.cleaned_data["on_hand"],
                actor=request.user,
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            return _changed(request, product_id)
    return _stock_card(request, product_id, 422, sku_form=form)


@require_POST
@requires("catalog.change")
def sku_update(request: HtmxHttpRequest, sku_id: int) -> HttpResponse:
    sku = selectors.sku_get(sku_id=sku_id)
    if sku is None:
        raise Http404
    form = SkuUpdateForm(request.POST)
    if form.is_valid():
        try:
            services.sku_update(
                sku_id=sku_id,
                name=form.cleaned_data["name"],
                price=form.cleaned_data["price"],
                allow_backorder=form.cleaned_data["allow_backorder"],
                active=form.cleaned_data["active"],
                actor=request.user,
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            return _changed(request, sku.product_id)
    return _stock_card(request, sku.product_id, 422, sku_edit=(sku_id, form))


@require_POST
@requires("catalog.change")
def stock_adjust(request: HtmxHttpRequest, sku_id: int) -> HttpResponse:
    sku = selectors.sku_get(sku_id=sku_id)
    if sku is None:
        raise Http404
    form = StockAdjustForm(request.POST)
    if form.is_valid():
        try:
            services.stock_adjust(
                sku_id=sku_id,
                counted=form.cleaned_data["counted"],
                note=form.cleaned_data["note"],
                actor=request.user,
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
        else:
            return _changed(request, sku.product_id)
    return _stock_card(request, sku.product_id, 422, adjust=(sku_id, form))
