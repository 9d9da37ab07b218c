from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import defaults

from procedo.core import uploads
from procedo.core.errors import Conflict, DomainError, NotFound, PermissionDenied

logger = logging.getLogger(__name__)


class DatabaseUnavailableMiddleware:
    """A database that is locked or cannot be reached answers 503 with Retry-After, never a 500.

    A writer that waited its bounded time for a lock (`DatabaseLockWaitMiddleware`)
    gets "busy, nothing was saved"; an unreachable database "unavailable". This
    catches what a view raises; what is raised around the view reaches `server_error`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return database_unavailable(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500. A database error raised outside any view never reaches process_exception:
    a middleware's statement (the lock wait, a session or user read) or the reconnect
    before it, when the database went away under load (R6 on PostgreSQL). Django turns it
    into a response here, where it is the same 503; any other error is Django's 500."""
    exception = sys.exc_info()[1]
    if isinstance(exception, OperationalError | InterfaceError):
        return database_unavailable(request, exception)
    return defaults.server_error(request)


def database_unavailable(
    request: HttpRequest, exception: OperationalError | InterfaceError
) -> HttpResponse:
    """The 503 with Retry-After for a database locked or gone, wherever it was met.

    Pages get a small page that needs no database; /api/ gets JSON in the API's shape;
    /hooks/ the hook's JSON, which the platform's delivery log shows before it retries.
    """
    text = str(exception).lower()
    # SQLite: "database is locked"; PostgreSQL: "canceling statement due to lock timeout".
    if "locked" in text or "lock timeout" in text:
        logger.warning("database busy, answered 503: %s", exception)
        message = _(
            "Another change is being saved; nothing was saved. Please try again in a moment."
        )
    else:
        logger.error("database unavailable: %s", exception)
        message = _("The database is unavailable; please retry shortly.")
    if request.path.startswith("/hooks/"):
        # Locked or unreachable: nothing was stored (or, if the commit's answer was lost,
        # it was and the retry is a duplicate, processed once).
        detail = _("The database is unavailable; nothing was stored. Please retry.")
        response: HttpResponse = JsonResponse({"detail": detail, "field": "database"}, status=503)
    elif request.path.startswith("/api/"):
        response = JsonResponse(
            {"detail": message, "field": "database", "code": "unavailable"}, status=503
        )
    else:
        page = render_to_string(
            "core/unavailable.html", {"message": message, "language": get_language()}
        )
        response = HttpResponse(page, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


RETRY_AFTER_SECONDS = 5
_in_request: ContextVar[bool] = ContextVar("procedo_in_request", default=False)


# On the connection wrapper: the lock wait its connection has, in seconds (None: its own),
# so that a request whose connection already waits as it should issues no statement.
_WAIT = "procedo_lock_wait"
_UNKNOWN = -1.0  # never a wanted wait: the next _lock_wait sets it again


def _lock_wait_statement(conn: BaseDatabaseWrapper, seconds: float | None) -> tuple[str, list[str]]:
    if conn.vendor == "sqlite":
        if seconds is None:
            seconds = conn.settings_dict["OPTIONS"].get("timeout", 5)
        return f"PRAGMA busy_timeout = {int(seconds * 1000)}", []
    if seconds is None:
        return "RESET lock_timeout", []
    return "SELECT set_config('lock_timeout', %s, false)", [f"{seconds}s"]


def _lock_wait(conn: BaseDatabaseWrapper, seconds: float | None, *, raw: bool = False) -> None:
    """The time a statement of `conn` waits for a lock; None: the connection's own again.

    No statement when the connection already has it. `raw`: on the driver's connection,
    from inside another statement (`_own_wait_back`), as Django sets a new connection up.
    """
    if getattr(conn, _WAIT, None) == seconds or conn.vendor not in ("sqlite", "postgresql"):
        return
    setattr(conn, _WAIT, _UNKNOWN)  # until the statement has run
    sql, params = _lock_wait_statement(conn, seconds)
    if raw:
        with conn.wrap_database_errors:
            conn.connection.execute(sql, *([params] if params else []))
    else:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
    # PostgreSQL undoes a SET with the transaction or savepoint that rolls back: the wait
    # is known only when set in autocommit (as a server thread's is). SQLite's is kept.
    if conn.vendor == "sqlite" or conn.get_autocommit():
        setattr(conn, _WAIT, seconds)
    if seconds is not None and _own_wait_back not in conn.execute_wrappers:
        # First, so that a test's `with connection.execute_wrapper(...)` pops its own.
        conn.execute_wrappers.insert(0, _own_wait_back)


def _own_wait_back(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """A statement outside a request (a test's own after a test-client request, a streamed
    response's) on a connection a request set: the connection's own wait first. Lazily,
    not as each request ends: a server thread serves request after request on the same
    connection and so keeps the request's wait, with no statement."""
    conn = context["connection"]
    # A broken transaction refuses the statement itself (Django says so); not this one first.
    if not _in_request.get() and getattr(conn, _WAIT, None) is not None and not conn.needs_rollback:
        _lock_wait(conn, None, raw=True)
    return execute(sql, params, many, context)


def _lock_wait_on_connect(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    setattr(connection, _WAIT, None)  # a new connection has its own wait
    if _in_request.get():
        _lock_wait(connection, settings.PROCEDO_DB_LOCK_WAIT)


class DatabaseLockWaitMiddleware:
    """A web request waits at most PROCEDO_DB_LOCK_WAIT seconds (5) for a lock, then gets 503.

    SQLite's busy timeout, PostgreSQL's lock_timeout. Reads are not held up: SQLite in WAL
    mode and PostgreSQL let them run beside a writer. The worker and the CLI keep the
    connection's own wait (30 s on SQLite): an import batch may wait for a web writer,
    a person should not wait for an import. A connection kept from an earlier request
    already has the wait, so a request costs no statement for it (make bench, B1).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        connection_created.connect(_lock_wait_on_connect, dispatch_uid="procedo.lock_wait")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        marked = _in_request.set(True)
        try:
            if connection.connection is not None:  # kept from an earlier request, or a test's
                _lock_wait(connection, settings.PROCEDO_DB_LOCK_WAIT)
            return self.get_response(request)
        finally:
            _in_request.reset(marked)


class RequestSizeMiddleware:
    """A body declared larger than the upload limit is refused with 413 before it is read.

    Listed before CsrfViewMiddleware, which would read it. A view marked
    `upload_limited` answers with its own page instead; JSON under /api/.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., HttpResponse], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not uploads.declared_too_large(request) or getattr(view, "upload_limited", False):
            return None
        message = uploads.upload_limit_message()
        if request.path.startswith("/api/"):
            multipart = request.content_type == "multipart/form-data"
            body = {
                "detail": message,
                "field": "file" if multipart else "body",
                "code": "too_large",
            }
            return JsonResponse(body, status=413)
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")


class DomainErrorMiddleware:
    """A rule's refusal that a page did not catch is the page's answer, never a 500.

    Pages catch what they can show next to a field; an unknown id in the address, a
    forbidden object or a stale move that reaches here is told to the person with
    its status (404, 403, 409, 422). The API answers these itself (config/api.py).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, DomainError):
            return None
        titles = {
            NotFound: _("Not found"),
            PermissionDenied: _("Not allowed"),
            Conflict: _("Not possible now"),
        }
        title = next(
            (text for kind, text in titles.items() if isinstance(exception, kind)),
            _("Not accepted"),
        )
        context = {"title": title, "message": exception.message}
        return render(request, "core/refused.html", context, status=exception.status_code)
