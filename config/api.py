"""The REST API: one NinjaAPI, one error shape for every endpoint."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
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
from procedo.core.errors import CODES, DomainError
from procedo.customers.api import router as customers_router
from procedo.home.api import router as events_router
from procedo.messaging.api import router as messaging_router
from procedo.orders.api import router as orders_router
from procedo.sops.api import router as sops_router
from procedo.work.api import router as tasks_router

_ERROR_STATUSES = {
    "400": "The body is not what the operation reads (not JSON, or not UTF-8).",
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


api = ProcedoAPI(
    title="Procedo API",
    version="1",
    description=(
        "Every page of Procedo is also an endpoint here. Errors have one shape, "
        "`{detail, field, code}` (see the `Error` schema for every code). "
        "Writes take an `Idempotency-Key` header (kept 24 hours)."
    ),
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


api.add_router("/accounts", accounts_router)
api.add_router("/analytics", analytics_router)
api.add_router("/events", events_router)
api.add_router("/customers", customers_router)
api.add_router("/catalog", catalog_router)
api.add_router("/orders", orders_router)
api.add_router("/messages", messaging_router)
api.add_router("/sops", sops_router)
api.add_router("/sops", sop_runs_router)
api.add_router("/runs", runs_router)
api.add_router("/tasks", tasks_router)
api.add_router("/comments", comments_router)
api.add_router("/notifications", notifications_router)
