"""A person and an event a consumer could not handle: given again, or set aside with a
reason; each an event of its own.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import (
    transaction,
)
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.core.actors import actor_id_of
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.events import registry
from procedo.events.models import (
    FAILURE_REASON_MAX,
    ConsumerFailure,
    FailureState,
)
from procedo.events.services.consumers import (
    _FAILURE_FIELDS,
    _consumer_lock,
    _release_waiting,
    _retry_one,
    _subject_key,
)
from procedo.events.services.recording import event_record

logger = logging.getLogger(__name__)

# ---------------------------------------------------------------- a person and a failed event


def _failure_locked(failure_id: int) -> ConsumerFailure:
    found = ConsumerFailure.objects.filter(pk=failure_id).values_list("consumer", flat=True).first()
    if found is None:
        raise NotFound(
            field="failure_id", message=_("No failed event %(id)s.") % {"id": failure_id}
        )
    _consumer_lock(found)
    # Read again under the consumer's lock: a drain may have retried it meanwhile.
    return ConsumerFailure.objects.select_related("event").get(pk=failure_id)


def _failure_payload(failure: ConsumerFailure, **extra: Any) -> dict[str, Any]:
    return {"consumer": failure.consumer, "event_id": failure.event_id, **extra}


@transaction.atomic
def consumer_failure_retry(*, failure_id: int, actor: Any) -> ConsumerFailure:
    """A person hands the event to its consumer again, now.

    If the handler takes it, the failure is resolved (and, in strict order, the
    events that waited behind it follow); if not, its error and attempts are
    updated and it stays where it was. A failure resolved already is returned as
    it is, so a double click retries once.
    """
    failure = _failure_locked(failure_id)
    if failure.state == FailureState.RESOLVED:
        return failure
    consumer = registry.consumer_get(failure.consumer)
    if consumer is None:
        raise Conflict(
            field="consumer",
            message=_("No consumer named %(name)s runs in this version of Procedo.")
            % {"name": failure.consumer},
        )
    if failure.state == FailureState.WAITING and consumer.ordered_by_subject:
        raise Conflict(
            field="state",
            message=_(
                "This event waits behind an earlier event of the same subject; retry that one."
            ),
        )
    released = _retry_one(
        failure,
        handler=consumer.handler,
        ordered_by_subject=consumer.ordered_by_subject,
        now=timezone.now(),
    )
    if released is None:
        event_record(
            event_type="consumer_failure.retry_failed",
            subject=failure,
            actor=actor,
            payload=_failure_payload(failure, attempts=failure.attempts, error=failure.error[:200]),
        )
        return failure
    failure.resolved_by_id = actor_id_of(actor)
    failure.save(update_fields=["resolved_by"])
    event_record(
        event_type="consumer_failure.resolved",
        subject=failure,
        actor=actor,
        payload=_failure_payload(failure, attempts=failure.attempts, released=released),
    )
    return failure


@transaction.atomic
def consumer_failure_dismiss(*, failure_id: int, actor: Any, reason: str) -> ConsumerFailure:
    """A person decides the event needs no handling by this consumer; the reason is kept.

    In strict order the events that waited behind it are handed over now.
    Dismissing twice changes nothing; a resolved event cannot be dismissed.
    """
    reason = reason.strip()
    if not reason:
        raise DomainError(field="reason", message=_("Say why this event needs no handling."))
    if len(reason) > FAILURE_REASON_MAX:
        raise DomainError(
            field="reason",
            code="too_large",
            message=_("At most %(max)s characters.") % {"max": FAILURE_REASON_MAX},
        )
    failure = _failure_locked(failure_id)
    if failure.state == FailureState.DISMISSED:
        return failure
    if failure.state == FailureState.RESOLVED:
        raise Conflict(
            field="state", message=_("This event was handled already; nothing to dismiss.")
        )
    was_failing = failure.state in (FailureState.RETRYING, FailureState.PARKED)
    now = timezone.now()
    failure.state, failure.note = FailureState.DISMISSED, reason
    failure.resolved_at, failure.resolved_by_id = now, actor_id_of(actor)
    failure.next_attempt_at = None
    failure.save(update_fields=_FAILURE_FIELDS)
    released = 0
    consumer = registry.consumer_get(failure.consumer)
    if was_failing and consumer is not None and consumer.ordered_by_subject:
        released = _release_waiting(
            name=failure.consumer,
            handler=consumer.handler,
            key=_subject_key(failure.event),
            now=now,
        )
    event_record(
        event_type="consumer_failure.dismissed",
        subject=failure,
        actor=actor,
        payload=_failure_payload(failure, reason=reason, released=released),
    )
    return failure
