"""Rendering templates a store owner writes: Jinja2 in a sandbox, every variable required.

The sandbox keeps a template from reaching Python internals; StrictUndefined turns a
misspelt variable into an error at save time instead of an empty gap in a customer's
mail. Variables are plain dicts and lists built here, never model instances.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.utils.translation import gettext as _
from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from procedo.core.errors import DomainError
from procedo.core.money import money_format

_text_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
_html_env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=True)

# Where a parcel can be followed, by carrier code; "{n}" is the tracking number.
TRACKING_URLS = {
    "nova_poshta": "https://novaposhta.ua/tracking/?cargo_number={n}",
    "novaposhta": "https://novaposhta.ua/tracking/?cargo_number={n}",
    "ukrposhta": "https://track.ukrposhta.ua/tracking_UA.html?barcode={n}",
    "dhl": "https://www.dhl.com/en/express/tracking.html?AWB={n}",
    "ups": "https://www.ups.com/track?tracknum={n}",
}


@dataclass(frozen=True)
class Rendered:
    subject: str
    body_text: str
    body_html: str


def _line_of_error(exc: BaseException) -> int | None:
    if isinstance(exc, TemplateSyntaxError):
        return exc.lineno
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _render_one(field: str, source: str, context: dict[str, Any], *, html: bool) -> str:
    env = _html_env if html else _text_env
    try:
        return env.from_string(source).render(context)
    except (TemplateSyntaxError, UndefinedError, SecurityError, TypeError, ValueError) as exc:
        line = _line_of_error(exc)
        detail = exc.message if isinstance(exc, TemplateSyntaxError) else str(exc)
        where = _("line %(n)d: ") % {"n": line} if line else ""
        raise DomainError(field=field, message=f"{where}{detail}") from None
    except Exception as exc:  # a template's own arithmetic (1/0) must not crash the page
        line = _line_of_error(exc)
        where = _("line %(n)d: ") % {"n": line} if line else ""
        raise DomainError(field=field, message=f"{where}{exc}") from None


def _namespaced(value: Any) -> Any:
    # Dicts become namespaces: `order.items` must be the order's items, not dict.items.
    if isinstance(value, dict):
        return SimpleNamespace(**{key: _namespaced(item) for key, item in value.items()})
    if isinstance(value, list):
        return [_namespaced(item) for item in value]
    return value


def render(*, subject: str, body_text: str, body_html: str, context: dict[str, Any]) -> Rendered:
    """Render all three parts; the first problem raises DomainError naming the field and line."""
    context = {key: _namespaced(value) for key, value in context.items()}
    return Rendered(
        subject=" ".join(_render_one("subject", subject, context, html=False).split()),
        body_text=_render_one("body_text", body_text, context, html=False),
        body_html=_render_one("body_html", body_html, context, html=True) if body_html else "",
    )


def _money(amount: Decimal | None, currency: str) -> str:
    return money_format(amount, currency) if amount is not None else ""


def customer_context(customer: Any) -> dict[str, Any]:
    first = customer.first_name or ""
    name = " ".join(p for p in (customer.first_name, customer.last_name) if p)
    emails = customer.emails
    phones = customer.phones
    return {
        "id": customer.pk,
        "name": name or customer.company or "",
        "first_name": first,
        "last_name": customer.last_name or "",
        "company": customer.company or "",
        "email": emails[0] if emails else "",
        "phone": phones[0] if phones else "",
        "orders_count": customer.orders_count,
    }


def order_context(order: Any) -> dict[str, Any]:
    shipment = order.shipments.order_by("-id").first()
    tracking_number = shipment.tracking_number if shipment else ""
    pattern = TRACKING_URLS.get(shipment.carrier.lower(), "") if shipment else ""
    return {
        "number": order.number,
        "total": _money(order.total, order.currency),
        "subtotal": _money(order.subtotal, order.currency),
        "shipping": _money(order.shipping_total, order.currency),
        "discount": _money(order.discount_total, order.currency),
        "currency": order.currency,
        "status": order.status.label,
        "placed_at": order.placed_at,
        "delivered_at": order.delivered_at,
        "items": [
            {
                "name": line.description,
                "sku": line.sku_code,
                "quantity": line.quantity,
                "price": _money(line.unit_price, order.currency),
                "total": _money(line.line_total, order.currency),
            }
            for line in order.lines.all()
        ],
        "tracking_number": tracking_number,
        "tracking_url": pattern.format(n=tracking_number) if pattern and tracking_number else "",
    }


def sample_context() -> dict[str, Any]:
    """Every variable a template may use, filled with examples: what a save is checked against."""
    return {
        "customer": {
            "id": 1,
            "name": "Тарас Шевченко",
            "first_name": "Тарас",
            "last_name": "Шевченко",
            "company": "",
            "email": "taras@example.com",
            "phone": "+380671234567",
            "orders_count": 3,
        },
        "order": {
            "number": "1001",
            "total": money_format(Decimal("1250.00"), "UAH"),
            "subtotal": money_format(Decimal("1200.00"), "UAH"),
            "shipping": money_format(Decimal("50.00"), "UAH"),
            "discount": money_format(Decimal("0"), "UAH"),
            "currency": "UAH",
            "status": "Shipped",
            "placed_at": None,
            "delivered_at": None,
            "items": [
                {
                    "name": "Чашка",
                    "sku": "CUP-1",
                    "quantity": 2,
                    "price": money_format(Decimal("600"), "UAH"),
                    "total": money_format(Decimal("1200"), "UAH"),
                }
            ],
            "tracking_number": "20450000000000",
            "tracking_url": TRACKING_URLS["nova_poshta"].format(n="20450000000000"),
        },
        "business": {"name": "My store"},
        "discount_code": "WELCOME10",
        "unsubscribe_url": "https://example.com/messages/unsubscribe/…",
    }


VARIABLE_NAMES = tuple(sample_context())
