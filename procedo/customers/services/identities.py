"""A customer's emails and phones, and the consent given on each."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor
from procedo.core.errors import DomainError, NotFound
from procedo.customers import normalise
from procedo.customers.models import ConsentState, Identity
from procedo.customers.services._common import (
    CONSENT_SOURCE_MAX,
    _clean_text,
    _consent_apply,
    _consent_state,
    _identities_insert,
    _identity_owner,
    _live_customer,
    _NewIdentity,
    _record,
    _reindex,
    _taken,
)


@transaction.atomic
def identity_add(
    *,
    customer_id: int,
    kind: str,
    value: str,
    actor: Actor,
    marketing_consent: str = ConsentState.UNKNOWN,
    consent_source: str = "",
) -> Identity:
    """Add an email or phone. Already this customer's: returned as is. Another's: Conflict."""
    customer = _live_customer(customer_id)
    normalised, tail = normalise.identity_normalise(kind, value)
    consent = _consent_state(marketing_consent, field="marketing_consent")
    consent_source = _clean_text("consent_source", consent_source, CONSENT_SOURCE_MAX)
    owner = _identity_owner(kind, normalised)
    if owner is not None:
        if owner.customer_id == customer.pk:
            return owner
        raise _taken(owner)
    (identity,) = _identities_insert(
        customer, [_NewIdentity(kind, normalised, tail, consent)], consent_source=consent_source
    )
    _reindex([customer])
    _record(
        "customer.identity_added",
        customer=customer,
        actor=actor,
        payload={"kind": kind, "value": normalised},
    )
    return identity


def _identity_of(customer_id: int, identity_id: int) -> Identity:
    identity = Identity.objects.filter(pk=identity_id, customer_id=customer_id).first()
    if identity is None:
        raise NotFound(
            field="identity_id",
            message=_("Customer #%(customer)s has no identity %(id)s.")
            % {"customer": customer_id, "id": identity_id},
        )
    return identity


@transaction.atomic
def identity_remove(*, customer_id: int, identity_id: int, actor: Actor) -> None:
    customer = _live_customer(customer_id)
    identity = _identity_of(customer_id, identity_id)
    nameless = not (customer.first_name or customer.last_name or customer.company)
    if nameless and not Identity.objects.filter(customer=customer).exclude(pk=identity.pk).exists():
        raise DomainError(
            field="identity_id",
            message=_("A customer without a name keeps at least one email or phone."),
        )
    identity.delete()
    _reindex([customer])
    _record(
        "customer.identity_removed",
        customer=customer,
        actor=actor,
        payload={"kind": identity.kind, "value": identity.value},
    )


@transaction.atomic
def consent_set(
    *,
    customer_id: int,
    identity_id: int,
    state: str,
    source: str,
    actor: Actor,
    changed_at: datetime | None = None,
) -> Identity:
    """Marketing consent for the identity's channel (email for an email, SMS for a phone).

    `source` says where the answer came from ("checkout", "support call",
    "unsubscribe link"); `changed_at` is when the person gave it, if not now.
    Setting the state it already has writes nothing.
    """
    customer = _live_customer(customer_id)
    _consent_state(state, field="state")
    source = _clean_text("source", source, CONSENT_SOURCE_MAX)
    identity = _identity_of(customer.pk, identity_id)
    _consent_apply(identity, state=state, source=source, actor=actor, at=changed_at)
    return identity
