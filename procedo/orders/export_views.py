"""The orders list as a file: the page's filters, the same rows (kept apart from views.py,
which the order pages change often)."""

from __future__ import annotations

from django.http import HttpRequest, StreamingHttpResponse

from procedo.accounts.decorators import requires
from procedo.core.exports import export_format, filters_known
from procedo.core.forms import filters_valid
from procedo.events.exports import export_stream
from procedo.orders import selectors
from procedo.orders.forms import OrderFilterForm


@requires("orders.view")
def order_export(request: HttpRequest) -> StreamingHttpResponse:
    """`?format=csv|xlsx` with the list's filters; an unknown filter is refused by name."""
    fmt = export_format(request.GET.get("format"))
    applied = filters_known(request.GET, OrderFilterForm.base_fields)
    form = OrderFilterForm(request.GET)
    filters_valid(form)
    return export_stream(
        request=request,
        actor=request.user,
        list_name="orders",
        fmt=fmt,
        filters=applied,
        columns=selectors.ORDER_COLUMNS,
        rows=selectors.order_export_rows(form.filters()),
    )
