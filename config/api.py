"""The REST API: one NinjaAPI, one error shape for every endpoint."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from procedo.accounts.api import router as accounts_router
from procedo.accounts.auth import api_auth
from procedo.accounts.services import TokenRejected
from procedo.analytics.api import router as analytics_router
from procedo.automation.api import router as runs_router
from procedo.automation.api import sop_runs_router
from procedo.catalog.api import router as catalog_router
from procedo.collab.api import comments_router, notifications_router
from procedo.core.bounds import PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX
from procedo.core.errors import CODES, DomainError
from procedo.customers.api import router as customers_router
from procedo.home.api import home_router
from procedo.home.api import router as events_router
from procedo.imports.api import router as imports_router
from procedo.integrations.api import router as integrations_router
from procedo.loyalty.api import router as loyalty_router
from procedo.messaging.api import router as messaging_router
from procedo.orders.api import router as orders_router
from procedo.outbound.api import router as webhooks_router
from procedo.sops.api import router as sops_router
from procedo.work.api import router as tasks_router

_ERROR_STATUSES = {
    "400": "The body is not what the operation reads (not JSON, not UTF-8, not multipart).",
    "401": "No valid credentials (or too many bad tokens: 429).",
    "403": "Your role does not allow this; `detail` names the permission.",
    "404": "No such object.",
    "409": "The request contradicts the current state.",
    "422": "A value is refused; `field` names it.",
    "429": "Too many attempts; see `Retry-After`.",
}
# Answered by the web server before Procedo sees the request: a request line over 4 KB.
_TOO_LONG = {"414": {"description": "The address is too long (over 4 KB)."}}


class ProcedoAPI(NinjaAPI):
    """Documents the one error shape, with every `code` a program may branch on."""

    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        schema["components"].setdefault("schemas", {})["Error"] = {
            "title": "Error",
            "type": "object",
            "required": ["detail", "field", "code"],
            "properties": {
                "detail": {"type": "string", "description": "For people, in their language."},
                "field": {"type": "string", "description": "The input it is about."},
                "code": {
                    "type": "string",
                    "enum": sorted(CODES),
                    "description": "\n".join(f"- `{c}`: {text}" for c, text in CODES.items()),
                },
            },
        }
        error = {
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        }
        for operations in schema["paths"].values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in _ERROR_STATUSES.items():
                    responses.setdefault(status, {"description": description, **error})
                responses.update(_TOO_LONG)
        return schema


_DESCRIPTION = f"""\
Every page of Procedo is also an endpoint here, with the same service, permission and
errors underneath. Errors have one shape, `{{detail, field, code}}` (see the `Error`
schema for every code). Writes take an `Idempotency-Key` header (kept 24 hours).

## Lists: one paging and filtering convention

- Every list answers `{{items, next_cursor}}` and takes `cursor` and `limit`.
- `cursor` is opaque: pass the `next_cursor` of the page before, with the same
  filters; `next_cursor` is `null` on the last page. Pages are keyset pages, so the
  millionth row comes as fast as the first and rows added meanwhile are not repeated.
- `limit` is the rows a page: {PAGE_LIMIT_DEFAULT} unless asked (an SOP's runs: 25), at
  most **{PAGE_LIMIT_MAX}** on every list; more is a 422 naming `limit`.
- Filters have the names the pages use in their addresses (`q`, `tag`, `customer`,
  `status`, `all`, `decision`, `person`, `kind`, `since`, `until` …), so a filtered
  page's query string works here too. Older names (`search`, `customer_id`, `mine`,
  `needs_decision`, `before`) still work and are marked deprecated.

## Exports

`GET …/export?format=csv|xlsx` with the list's filters (customers, orders, products
with stock, tasks, an SOP's runs, messages, events) streams the whole filtered list as
a file: CSV in UTF-8 with a byte order mark, or XLSX with typed cells (a new sheet
every 1,048,575 rows). A filter the list does not have, or another format, is a 422
naming it and nothing is exported. An export needs the permission of the list (403
naming it) and is recorded in the activity log: `list.exported` before the first
byte, `list.export_finished` with the row count at the end.

## Imports

`POST /api/imports` (`multipart/form-data`: `kind` orders|customers, `file`, and
optionally `source`, `currency`, `time_zone`) answers at once: 202 with a new job, or
200 with the job the same file (by its SHA-256) made before, so sending a file twice
imports it once. A file that is not the kind's CSV is a 422 naming `file`, and nothing
is kept. Poll the job's `url` (`state`, `percent`, counts) until `state` is `done`,
`refused` or `failed`; `report_url` then gives the rejected rows (line, reason, the
row as it was) as CSV.

## Webhooks (outbound)

`POST /api/webhooks` subscribes an address to event types (`GET /api/webhooks/event-types`)
and answers its `secret` once. Each event is then POSTed as JSON (`id`, `type`,
`occurred_at`, `subject`, `payload`, and `data`: the order or customer as this API shows
it), at least once, in order per subject, retried for 24 hours. Deduplicate on the
`Procedo-Event-Id` header; `Procedo-Signature: t=<unix time>,v1=<hex>` is HMAC-SHA256 of
`"<t>.<raw body>"` with the secret. Checking it in Python:

```python
import hashlib
import hmac
import time


def procedo_verify(body: bytes, signature_header: str, secret: str, tolerance: int = 300) -> bool:
    # True if `body` was signed by Procedo with `secret` less than `tolerance` seconds ago.
    parts = dict(item.split("=", 1) for item in signature_header.split(",") if "=" in item)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    signed = str(timestamp).encode() + b"." + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))
```
"""

api = ProcedoAPI(
    title="Procedo API",
    version="1",
    description=_DESCRIPTION,
    docs_url="/docs",
    auth=api_auth,
    urls_namespace="api",
)


@api.exception_handler(DomainError)
def domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    body = {"detail": exc.message, "field": exc.field, "code": exc.code}
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(ValidationError)
def schema_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    first = exc.errors[0] if exc.errors else {"msg": "invalid input", "loc": ["body"]}
    field = ".".join(str(part) for part in first["loc"][2:]) or str(first["loc"][-1])
    body = {
        "detail": f"{field}: {first['msg']}",
        "field": field,
        "code": "invalid",
        "errors": exc.errors,
    }
    return api.create_response(request, body, status=422)


@api.exception_handler(HttpError)
def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    """ninja's own refusals in the one shape: a body that is not JSON is the common one."""
    if exc.status_code == 400:
        body = {
            "detail": _("The body cannot be read: send JSON in UTF-8."),
            "field": "body",
            "code": "invalid",
        }
    else:
        body = {"detail": str(exc), "field": "", "code": "invalid"}
    return api.create_response(request, body, status=exc.status_code)


@api.exception_handler(MultiPartParserError)
def multipart_refused(request: HttpRequest, exc: MultiPartParserError) -> HttpResponse:
    """An upload (`POST /api/imports`) whose multipart body cannot be read: nothing is kept."""
    body = {
        "detail": _("The body cannot be read: send multipart/form-data with its boundary."),
        "field": "body",
        "code": "invalid",
    }
    return api.create_response(request, body, status=400)


@api.exception_handler(TokenRejected)
def token_rejected(request: HttpRequest, exc: TokenRejected) -> HttpResponse:
    code = "throttled" if exc.status_code == 429 else "unauthenticated"
    body = {"detail": str(exc), "field": "Authorization", "code": code}
    response = api.create_response(request, body, status=exc.status_code)
    if exc.retry_after is not None:
        response["Retry-After"] = str(exc.retry_after)
    return response


@api.exception_handler(AuthenticationError)
def authentication_required(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    message = _("Authentication required: send 'Authorization: Bearer <token>' or log in.")
    body = {"detail": message, "field": "Authorization", "code": "unauthenticated"}
    return api.create_response(request, body, status=401)


api.add_router("", home_router)
api.add_router("/accounts", accounts_router)
api.add_router("/analytics", analytics_router)
api.add_router("/events", events_router)
api.add_router("/customers", customers_router)
api.add_router("/catalog", catalog_router)
api.add_router("/orders", orders_router)
api.add_router("/imports", imports_router)
api.add_router("/integrations", integrations_router)
api.add_router("/messages", messaging_router)
api.add_router("/sops", sops_router)
api.add_router("/sops", sop_runs_router)
api.add_router("/runs", runs_router)
api.add_router("/tasks", tasks_router)
api.add_router("/comments", comments_router)
api.add_router("/notifications", notifications_router)
api.add_router("/webhooks", webhooks_router)
api.add_router("/loyalty", loyalty_router)
