"""Idempotency keys with Stripe's meaning, for every service that takes one.

A service that accepts `idempotency_key` is wrapped in `@idempotent`; the caller has
checked the permission before (a replay must never let someone read what they may not
do):

    @idempotent("order.create", replay=lambda pk: Order.objects.get(pk=pk))
    @transaction.atomic
    def order_create(*, lines, actor, idempotency_key, ...) -> Order: ...

(`idempotency_claim()` is the same step for code that cannot be wrapped.)

- The key is scoped to the caller (`user:<id>`; `system` for the worker and imports).
- The first use stores the operation and a SHA-256 fingerprint of the request; a
  repeat with the same operation and request returns the first result, one with
  another operation or request is refused (422, field `Idempotency-Key`).
- The row is written in the same transaction as the work: a request that fails
  leaves no key behind, so the client may retry it; a concurrent twin waits on the
  unique index and then replays.
- Keys live `TTL` (24 h, like Stripe's); `idempotency_keys_expire()` deletes older
  ones and a reuse after that is a new request.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar, overload

from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError
from procedo.core.models import IdempotencyKey

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 200
HEADER = "Idempotency-Key"
SYSTEM = "system"  # the scope of keys the worker and imports use


@dataclass
class Claim:
    """The outcome of claiming a key: a replay (with the first result) or new work."""

    record: IdempotencyKey | None  # None: no key given, nothing to remember
    replay: bool = False
    result_id: int | None = None

    @property
    def event_key(self) -> str | None:
        """The key the work passes on: to its event, and to what it derives keys from.

        The worker's keys are built from ids ("sop:run:12:step:confirm:0") and go on
        as they are, for ever unique on the event: the last guard against doing a step
        twice. A person's or a client's key is theirs and lives a day, so it goes on
        with this claim's id: unique for ever, whoever else uses the same string.
        """
        if self.record is None:
            return None
        if self.record.scope == SYSTEM:
            return self.record.key
        return f"{self.record.key}@{self.record.pk}"[:200]

    def done(self, *, result_id: int | None) -> None:
        if self.record is None:
            return
        IdempotencyKey.objects.filter(pk=self.record.pk).update(result_id=result_id or 0)
        self.record.result_id = result_id or 0


def _scope(actor: Any) -> str:
    pk = actor_id_of(actor)
    return f"user:{pk}" if pk is not None else SYSTEM


def _fingerprint(operation: str, request: Mapping[str, Any]) -> str:
    text = json.dumps(
        {"operation": operation, "request": request}, sort_keys=True, default=str, ensure_ascii=True
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _reused() -> DomainError:
    return DomainError(
        field=HEADER,
        code="idempotency_key_reused",
        message=_(
            "This Idempotency-Key was used for another request; send a new key for new work."
        ),
    )


def idempotency_claim(
    *, key: str | None, actor: Any, operation: str, request: Mapping[str, Any]
) -> Claim:
    """Claim `key` for this caller and request, or find the first result of the same request."""
    if not key:
        return Claim(record=None)
    if len(key) > MAX_KEY_LENGTH:
        raise DomainError(
            field=HEADER,
            code="too_large",
            message=_("An Idempotency-Key has at most %(n)d characters.") % {"n": MAX_KEY_LENGTH},
        )
    scope, fingerprint, now = _scope(actor), _fingerprint(operation, request), timezone.now()
    for _attempt in range(2):
        record = _claim_new(
            scope=scope, key=key, operation=operation, fingerprint=fingerprint, now=now
        )
        if record is not None:
            return Claim(record=record)
        # Claimed before (a twin committed first: PostgreSQL waited for it), or expired.
        existing = IdempotencyKey.objects.filter(scope=scope, key=key).first()
        if existing is None:
            continue  # expired and deleted by someone else meanwhile
        if existing.created_at < now - TTL:
            existing.delete()  # expired: a new request
            continue
        if existing.operation != operation or existing.fingerprint != fingerprint:
            raise _reused()
        if existing.result_id is None:  # only a twin still inside its transaction
            raise Conflict(
                field=HEADER,
                code="idempotency_key_in_progress",
                message=_("A request with this Idempotency-Key is still running."),
            )
        return Claim(record=existing, replay=True, result_id=existing.result_id)
    raise Conflict(
        field=HEADER,
        code="idempotency_key_in_progress",
        message=_("A request with this Idempotency-Key is still running."),
    )


def _claim_new(
    *, scope: str, key: str, operation: str, fingerprint: str, now: datetime
) -> IdempotencyKey | None:
    """The key's row, written unless the caller's key has one; None if it has.

    One statement, with no savepoint: reading first, then inserting in a savepoint (for
    the IntegrityError of a twin) was four statements for every new key, and the worker
    claims one for each delivery it applies (make bench, R1)."""
    q = connection.ops.quote_name  # the fields' names are their columns'
    table = q(IdempotencyKey._meta.db_table)
    columns = ", ".join(
        q(name) for name in ("scope", "key", "operation", "fingerprint", "created_at")
    )
    unique = f"{q('scope')}, {q('key')}"
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({columns}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608 (the model's names)
            f" ON CONFLICT ({unique}) DO NOTHING RETURNING {q('id')}",
            [scope, key, operation, fingerprint, connection.ops.adapt_datetimefield_value(now)],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    record = IdempotencyKey(
        pk=row[0], scope=scope, key=key, operation=operation, fingerprint=fingerprint,
        created_at=now,
    )  # fmt: skip
    record._state.adding = False
    record._state.db = connection.alias
    return record


def idempotency_claims_done(
    *, operation: str, claims: Sequence[tuple[str, Mapping[str, Any], int]]
) -> None:
    """Claim many new keys of the worker at once, each with its result: (key, request,
    result id) for work a batch has done in this transaction. The caller has seen that none
    is claimed; a twin that claimed one meanwhile fails the batch (IntegrityError)."""
    now = timezone.now()
    IdempotencyKey.objects.bulk_create(
        IdempotencyKey(
            scope=SYSTEM,
            key=key,
            operation=operation,
            fingerprint=_fingerprint(operation, request),
            result_id=result_id,
            created_at=now,
        )
        for key, request, result_id in claims
    )


def idempotency_keys_claimed(*, keys: Sequence[str]) -> set[str]:
    """Which of these keys of the worker are claimed (done, running or expired)."""
    return set(
        IdempotencyKey.objects.filter(scope=SYSTEM, key__in=list(keys)).values_list(
            "key", flat=True
        )
    )


def idempotency_keys_expire(*, now: Any = None) -> int:
    """Delete keys older than `TTL`; a key reused after that starts new work."""
    cutoff = (now or timezone.now()) - TTL
    deleted, _counts = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


Params = ParamSpec("Params")
Result = TypeVar("Result")


def idempotent(
    operation: str, *, replay: Callable[[int], Any]
) -> Callable[[Callable[Params, Result]], Callable[Params, Result]]:
    """Wrap a service taking keyword arguments `actor` and `idempotency_key`.

    The rest of its arguments are the request's fingerprint. A replay answers
    `replay(first result's pk)`; new work runs the service with the key scoped to
    the caller (what its event stores: the last guard if two twins race).
    """

    def wrap(service: Callable[Params, Result]) -> Callable[Params, Result]:
        @functools.wraps(service)
        def run(*args: Params.args, **kwargs: Params.kwargs) -> Result:
            key = kwargs.get("idempotency_key")
            assert key is None or isinstance(key, str)
            if args or not key:  # services take keywords only; no key: nothing to remember
                return service(*args, **kwargs)
            request = {k: v for k, v in kwargs.items() if k not in ("actor", "idempotency_key")}
            with transaction.atomic():
                claim = idempotency_claim(
                    key=key, actor=kwargs.get("actor"), operation=operation, request=request
                )
                if claim.replay:
                    return replay(claim.result_id or 0)
                kwargs["idempotency_key"] = claim.event_key
                result = service(*args, **kwargs)
                claim.done(result_id=getattr(result, "pk", None))
                return result

        return run

    return wrap


def idempotency_header(*, required: bool = False) -> Any:
    """The `Idempotency-Key` header parameter of an API endpoint, bounded and documented."""
    from ninja import Header

    return Header(
        default=... if required else None,
        alias=HEADER,
        min_length=1,
        max_length=MAX_KEY_LENGTH - len("api:"),
        description=(
            "Any unique string (a UUID). A repeat of the same request with the same key "
            "answers with the first result; the same key with another request is a 422. "
            "Keys are kept for 24 hours."
        ),
    )


@overload
def api_key(header: str) -> str: ...
@overload
def api_key(header: None) -> None: ...
def api_key(header: str | None) -> str | None:
    """The service's key for a client's Idempotency-Key header."""
    return f"api:{header}" if header else None
