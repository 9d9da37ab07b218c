"""A customer's addresses, tags and notes."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.core.errors import DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.customers import normalise
from procedo.customers.models import Address, AddressKind, CustomerTag, Note, Tag
from procedo.customers.services._common import _clean_text, _live_customer, _record

ADDRESS_LIMITS = {"line1": 200, "line2": 200, "city": 100, "region": 100, "postcode": 20}


NOTE_MAX = 10_000


TAG_MAX = 60


@idempotent("customer.address_add", replay=lambda pk: Address.objects.get(pk=pk))
@transaction.atomic
def address_add(
    *,
    customer_id: int,
    line1: str,
    city: str,
    actor: Actor,
    kind: str = AddressKind.SHIPPING,
    line2: str = "",
    region: str = "",
    postcode: str = "",
    country: str = "",
    idempotency_key: str | None = None,
) -> Address:
    customer = _live_customer(customer_id)
    if kind not in AddressKind.values:
        raise DomainError(
            field="kind",
            message=_("An address is one of %(kinds)s.") % {"kinds": ", ".join(AddressKind.values)},
        )
    fields = {
        name: _clean_text(name, raw, ADDRESS_LIMITS[name])
        for name, raw in (
            ("line1", line1),
            ("line2", line2),
            ("city", city),
            ("region", region),
            ("postcode", postcode),
        )
    }
    for required in ("line1", "city"):
        if not fields[required]:
            raise DomainError(field=required, message=_("This field is required."))
    address = Address.objects.create(
        customer=customer,
        kind=kind,
        country=normalise.country_normalise(country),
        postcode_key=normalise.postcode_key(fields["postcode"]),
        place_key=normalise.place_key(fields["city"], fields["line1"]),
        **fields,
    )
    _record(
        "customer.address_added",
        customer=customer,
        actor=actor,
        payload={"address_id": address.pk, "kind": kind, "address": str(address)},
        idempotency_key=idempotency_key,
    )
    return address


@transaction.atomic
def address_remove(*, customer_id: int, address_id: int, actor: Actor) -> None:
    customer = _live_customer(customer_id)
    address = Address.objects.filter(pk=address_id, customer_id=customer.pk).first()
    if address is None:
        raise NotFound(
            field="address_id",
            message=_("Customer #%(customer)s has no address %(id)s.")
            % {"customer": customer.pk, "id": address_id},
        )
    address.delete()
    _record(
        "customer.address_removed",
        customer=customer,
        actor=actor,
        payload={"address_id": address_id, "address": str(address)},
    )


def _tag_name(raw: str) -> str:
    name = " ".join(raw.split())
    if not name:
        raise DomainError(field="tag", message=_("A tag needs a name."))
    if len(name) > TAG_MAX:
        raise DomainError(
            field="tag", message=_("At most %(limit)s characters.") % {"limit": TAG_MAX}
        )
    return name


@transaction.atomic
def tag_add(*, customer_id: int, name: str, actor: Actor) -> Tag:
    """Tag the customer, creating the tag the first time any spelling of it is used."""
    customer = _live_customer(customer_id)
    clean = _tag_name(name)
    tag, _created = Tag.objects.get_or_create(
        name_key=normalise.text_key(clean), defaults={"name": clean}
    )
    _link, linked = CustomerTag.objects.get_or_create(customer=customer, tag=tag)
    if linked:
        _record("customer.tagged", customer=customer, actor=actor, payload={"tag": tag.name})
    return tag


@transaction.atomic
def tag_remove(*, customer_id: int, name: str, actor: Actor) -> None:
    """Untag. A tag that does not exist is NotFound naming "tag"; one not on them is a no-op."""
    customer = _live_customer(customer_id)
    tag = Tag.objects.filter(name_key=normalise.text_key(_tag_name(name))).first()
    if tag is None:
        raise NotFound(field="tag", message=_("There is no tag %(name)s.") % {"name": name.strip()})
    removed, _detail = CustomerTag.objects.filter(customer=customer, tag=tag).delete()
    if removed:
        _record("customer.untagged", customer=customer, actor=actor, payload={"tag": tag.name})


@idempotent("customer.note_add", replay=lambda pk: Note.objects.get(pk=pk))
@transaction.atomic
def note_add(
    *, customer_id: int, body: str, actor: Actor, idempotency_key: str | None = None
) -> Note:
    customer = _live_customer(customer_id)
    text = body.strip()
    if not text:
        raise DomainError(field="body", message=_("The note is empty."))
    if len(text) > NOTE_MAX:
        raise DomainError(
            field="body", message=_("At most %(limit)s characters.") % {"limit": NOTE_MAX}
        )
    note = Note.objects.create(customer=customer, author=actor_person(actor), body=text)
    _record(
        "customer.note_added",
        customer=customer,
        actor=actor,
        payload={"note_id": note.pk, "excerpt": text if len(text) <= 80 else text[:79] + "…"},
        idempotency_key=idempotency_key,
    )
    return note
