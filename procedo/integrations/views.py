from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from procedo.accounts.decorators import requires
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.integrations import selectors, services
from procedo.integrations.forms import ConnectionEditForm, ConnectionForm, DeliveryFilter
from procedo.integrations.models import Connection, Delivery

PERMISSION = "integrations.manage"


@require_http_methods(["GET", "POST"])
@requires(PERMISSION)
def connection_list(request: HttpRequest) -> HttpResponse:
    form = ConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                connection = services.connection_create(**form.cleaned_data, actor=request.user)
            except DomainError as exc:
                refusal_add(form, exc.field, exc.message)
                status = exc.status_code
            else:
                return redirect("integrations:detail", connection_id=connection.pk)
        else:
            status = 422
    context = {"form": form, "connections": selectors.connections_list()}
    return render(request, "integrations/list.html", context, status=status)


def _detail_context(
    request: HttpRequest, connection: Connection, edit_form: ConnectionEditForm
) -> dict:
    filters = DeliveryFilter(request.GET or None)
    state, before = "", None
    if filters.is_valid():
        state, before = filters.cleaned_data["state"], filters.cleaned_data["before"]
    return {
        "connection": connection,
        "hook_url": request.build_absolute_uri(selectors.hook_path(connection)),
        "edit_form": edit_form,
        "filters": filters,
        "state": state,
        "page": selectors.deliveries_page(connection_id=connection.pk, state=state, before=before),
        "counts": selectors.delivery_counts(connection_id=connection.pk),
        "reviews": selectors.sku_reviews(connection_id=connection.pk),
    }


@requires(PERMISSION)
def connection_detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=connection_id)
    edit_form = ConnectionEditForm(
        initial={
            "name": connection.name,
            "account": connection.account,
            "active": connection.active,
        }
    )
    return render(
        request, "integrations/detail.html", _detail_context(request, connection, edit_form)
    )


@require_POST
@requires(PERMISSION)
def connection_update(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=connection_id)
    form = ConnectionEditForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            services.connection_update(
                connection_id=connection.pk, actor=request.user, **form.cleaned_data
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
            status = exc.status_code
        else:
            return redirect("integrations:detail", connection_id=connection.pk)
    return render(
        request,
        "integrations/detail.html",
        _detail_context(request, connection, form),
        status=status,
    )


@require_POST
@requires(PERMISSION)
def delivery_replay(request: HttpRequest, delivery_id: int) -> HttpResponse:
    delivery = get_object_or_404(Delivery.objects.only("id", "connection_id"), pk=delivery_id)
    services.delivery_replay(delivery_id=delivery.pk, actor=request.user)
    return redirect("integrations:detail", connection_id=delivery.connection_id)
