from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from procedo.accounts.decorators import requires
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.integrations import selectors
from procedo.integrations.forms import (
    ConnectionEditForm,
    ConnectionForm,
    ConnectionTestForm,
    DeliveryFilter,
)
from procedo.integrations.models import Connection, Delivery
from procedo.integrations.services import connections as connections_services
from procedo.integrations.services import processing as processing_services
from procedo.integrations.services import testing as testing_services

PERMISSION = "integrations.manage"


@require_http_methods(["GET", "POST"])
@requires(PERMISSION)
def connection_list(request: HttpRequest) -> HttpResponse:
    form = ConnectionForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                connection = connections_services.connection_create(
                    **form.cleaned_data, actor=request.user
                )
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
        "test_form": ConnectionTestForm(),
        "last_test": selectors.connection_last_test(connection_id=connection.pk),
    }


def _edit_form(connection: Connection) -> ConnectionEditForm:
    return ConnectionEditForm(
        initial={
            "name": connection.name,
            "account": connection.account,
            "active": connection.active,
        }
    )


@requires(PERMISSION)
def connection_detail(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=connection_id)
    return render(
        request,
        "integrations/detail.html",
        _detail_context(request, connection, _edit_form(connection)),
    )


@require_POST
@requires(PERMISSION)
def connection_update(request: HttpRequest, connection_id: int) -> HttpResponse:
    connection = get_object_or_404(Connection, pk=connection_id)
    form = ConnectionEditForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            connections_services.connection_update(
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
    processing_services.delivery_replay(delivery_id=delivery.pk, actor=request.user)
    return redirect("integrations:detail", connection_id=delivery.connection_id)


@require_POST
@requires(PERMISSION)
def connection_test(request: HtmxHttpRequest, connection_id: int) -> HttpResponse:
    """Send the connection's address a signed sample and show what became of it: the test
    card under htmx, the whole page otherwise."""
    connection = get_object_or_404(Connection, pk=connection_id)
    form = ConnectionTestForm(request.POST)
    status, last_test = 422, None
    if form.is_valid():
        try:
            last_test = testing_services.connection_test_send(
                connection_id=connection.pk,
                actor=request.user,
                hook_url=request.build_absolute_uri(selectors.hook_path(connection)),
                idempotency_key=f"ui:{form.cleaned_data['form_token']}",
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
            status = exc.status_code
        else:
            status, form = 200, ConnectionTestForm()  # a fresh token for the next test
    if last_test is None:
        last_test = selectors.connection_last_test(connection_id=connection.pk)
    if request.htmx:
        context = {"connection": connection, "test_form": form, "last_test": last_test}
        return render(request, "integrations/detail.html#test-card", context, status=status)
    context = _detail_context(request, connection, _edit_form(connection))
    context.update(test_form=form, last_test=last_test)
    return render(request, "integrations/detail.html", context, status=status)
