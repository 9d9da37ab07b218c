"""Calls Procedo makes to the platforms' APIs: bounded in time and size, JSON both ways.

The bases are module attributes so that tests point them at a local server speaking
the platform's documented format; Shopify's is the connection's own shop domain.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from procedo.core.errors import DomainError

STRIPE_API = "https://api.stripe.com"
NOVA_POSHTA_API = "https://api.novaposhta.ua/v2.0/json/"
SHOPIFY_API_VERSION = "2024-10"
TIMEOUT = 20  # seconds per call
MAX_ANSWER = 8 * 1024 * 1024  # bytes


def shopify_base(account: str) -> str:
    """The shop's address: its domain, or a whole URL (a local server in tests)."""
    account = account.strip().rstrip("/")
    return account if account.startswith(("http://", "https://")) else f"https://{account}"


def call_json(
    url: str, *, headers: dict[str, str], body: Any = None, method: str = "GET"
) -> tuple[Any, dict[str, str]]:
    """(the answer's JSON, its headers); a refusal, a timeout or a non-JSON answer is a
    DomainError naming `api` with what went wrong, for the connection's page."""
    if not url.startswith(("https://", "http://")):
        raise DomainError(field="api", message=_("Only http and https addresses are called."))
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        url,
        data=data,
        method=method,
        headers={
            "Accept": "application/json",
            **({"Content-Type": "application/json"} if data is not None else {}),
            **headers,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:  # noqa: S310 (checked above)
            raw = answer.read(MAX_ANSWER + 1)
            answer_headers = dict(answer.headers.items())
    except urllib.error.HTTPError as refused:
        raise DomainError(
            field="api", message=_("The platform answered %(code)s.") % {"code": refused.code}
        ) from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise DomainError(
            field="api", message=_("The platform could not be reached: %(why)s") % {"why": exc}
        ) from None
    if len(raw) > MAX_ANSWER:
        raise DomainError(
            field="api", code="too_large", message=_("The platform's answer is too large.")
        )
    try:
        return json.loads(raw, parse_float=Decimal), answer_headers
    except ValueError:
        raise DomainError(field="api", message=_("The platform's answer is not JSON.")) from None
