"""The REST API: one NinjaAPI, one error shape for every endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, ValidationError

from procedo.accounts.api import router as accounts_router
from procedo.accounts.auth import api_auth
from procedo.accounts.services import TokenRejected
from procedo.automation.api import router as runs_router
from procedo.automation.api import sop_runs_router
from procedo.catalog.api import router as catalog_router
from procedo.collab.api import comments_router, notifications_router
from procedo.core.errors import DomainError
from procedo.customers.api import router as customers_router
from procedo.home.api import router as events_router
from procedo.messaging.api import router as messaging_router
from procedo.orders.api import router as orders_router
from procedo.sops.api import router as sops_router
from procedo.work.api import router as tasks_router

api = NinjaAPI(
    title="Procedo API",
    version="1",
    description="Every page of Procedo is also an endpoint here.",
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
