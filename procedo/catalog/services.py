"""Every write to the catalog: products, SKUs and stock, each change with its events.

Stock moves only through the functions here. Each is one conditional UPDATE
over all the SKUs it touches (never read-modify-write of a Python copy), one
multi-row INSERT of StockMovement rows and one of events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Case, Expression, F, IntegerField, Q, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from procedo.accounts.actors import Actor
from procedo.catalog import selectors
from procedo.catalog.models import Product, Sku, StockMovement, StockReason
from procedo.core.actors import actor_id_of
from procedo.core.bounds import MAX_STOCK, number_check
from procedo.core.errors import Conflict, DomainError, NotFound
from procedo.core.idempotency import idempotent
from procedo.core.money import amount_clean, currency_clean
from procedo.core.rows import rows_insert
from procedo.core.texts import LaterText, text_for_storing
from procedo.events.services.recording import NewEvent, event_record, events_record_many


class OutOfStock(Conflict):
    """A line asks for more than a SKU without backorder has free; names the SKU."""

    default_code = "out_of_stock"

    def __init__(self, *, sku_code: str, available: int, requested: int, field: str) -> None:
        super().__init__(
            field=field,
            message=_("Not enough stock of %(code)s: %(available)s available, %(requested)s asked.")
            % {"code": sku_code, "available": available, "requested": requested},
        )
        self.sku_code, self.available, self.requested = sku_code, available, requested


@dataclass(frozen=True)
class StockLine:
    sku_id: int
    quantity: int


def _search_text(product_id: int) -> str:
    product = Product.objects.only("name").get(pk=product_id)
    parts = [product.name]
    for code, name in Sku.objects.filter(product_id=product_id).values_list("code", "name"):
        parts += [code, name]
    return " ".join(part for part in parts if part).casefold()[:1000]


def _search_text_refresh(product_id: int) -> None:
    Product.objects.filter(pk=product_id).update(search_text=_search_text(product_id))


MAX_CATEGORY = 100


def _category_clean(category: str) -> str:
    # One spelling per category: spaces squeezed, so "Чайники " and "Чайники" are one.
    category = " ".join((category or "").split())
    if len(category) > MAX_CATEGORY:
        raise DomainError(
            field="category", message=_("At most %(n)s characters.") % {"n": MAX_CATEGORY}
        )
    return category


def _name_clean(name: str, *, field: str = "name") -> str:
    name = (name or "").strip()
    if not name:
        raise DomainError(field=field, message=_("A name is required."))
    if len(name) > 200:
        raise DomainError(field=field, message=_("At most 200 characters."))
    return name


@idempotent("product.create", replay=lambda pk: Product.objects.get(pk=pk))
@transaction.atomic
def product_create(
    *,
    name: str,
    description: str = "",
    category: str = "",
    active: bool = True,
    actor: Actor = None,
    idempotency_key: str | None = None,
) -> Product:
    product = Product.objects.create(
        name=_name_clean(name),
        description=description.strip(),
        category=_category_clean(category),
        active=active,
    )
    _search_text_refresh(product.pk)
    event_record(
        event_type="product.created",
        subject=product,
        actor=actor,
        payload={"name": product.name, "category": product.category},
        idempotency_key=idempotency_key,
    )
    return product


@transaction.atomic
def product_update(
    *,
    product_id: int,
    name: str | None = None,
    description: str | None = None,
    category: str | None = None,
    active: bool | None = None,
    actor: Actor = None,
) -> Product:
    product = Product.objects.filter(pk=product_id).first()
    if product is None:
        raise NotFound(field="product_id", message=_("No such product."))
    changes: dict[str, Any] = {}
    if name is not None and _name_clean(name) != product.name:
        changes["name"] = _name_clean(name)
    if description is not None and description.strip() != product.description:
        changes["description"] = description.strip()
    if category is not None and _category_clean(category) != product.category:
        changes["category"] = _category_clean(category)
    if active is not None and active != product.active:
        changes["active"] = active
    if not changes:
        return product
    for field, value in changes.items():
        setattr(product, field, value)
    product.save(update_fields=[*changes, "updated_at"])
    if "name" in changes:
        _search_text_refresh(product.pk)
    # The description can be long; the event says that it changed, not what to.
    payload = {field: value for field, value in changes.items() if field != "description"}
    event_record(
        event_type="product.updated",
        subject=product,
        actor=actor,
        payload={**payload, "changed": sorted(changes)},
    )
    return product


@transaction.atomic
def sku_create(
    *,
    product_id: int,
    code: str,
    price: Decimal | str,
    currency: str,
    name: str = "",
    allow_backorder: bool = False,
    on_hand: int = 0,
    actor: Actor = None,
) -> Sku:
    code = (code or "").strip()
    if not code:
        raise DomainError(field="code", message=_("A SKU needs a code."))
    if len(code) > 64 or any(ch.isspace() for ch in code):
        raise DomainError(
            field="code", message=_("A code has no spaces and at most 64 characters.")
        )
    currency = currency_clean(currency)
    price = amount_clean(price, currency, field="price")
    number_check(on_hand, field="on_hand", low=0, high=MAX_STOCK)
    if not Product.objects.filter(pk=product_id).exists():
        raise NotFound(field="product_id", message=_("No such product."))
    taken = Conflict(field="code", message=_("The code %(code)s is taken.") % {"code": code})
    if Sku.objects.filter(code__iexact=code).exists():
        raise taken
    try:
        with transaction.atomic():
            sku = Sku.objects.create(
                product_id=product_id,
                code=code,
                name=name.strip(),
                price=price,
                currency=currency,
                allow_backorder=allow_backorder,
                on_hand=on_hand,
            )
    except IntegrityError:  # a twin request took the code between the check and the insert
        raise taken from None
    if on_hand:
        StockMovement.objects.create(
            sku=sku,
            delta_on_hand=on_hand,
            reason=StockReason.ADJUST,
            note="Initial stock",
            note_text=LaterText(gettext_noop("Initial stock")).stored(),
            actor_id=actor_id_of(actor),
        )
    _search_text_refresh(product_id)
    event_record(
        event_type="sku.created",
        subject=sku,
        actor=actor,
        payload={
            "code": code,
            "product_id": product_id,
            "price": price,
            "currency": currency,
            "on_hand": on_hand,
        },
    )
    return sku


@transaction.atomic
def sku_update(
    *,
    sku_id: int,
    name: str | None = None,
    price: Decimal | str | None = None,
    currency: str | None = None,
    allow_backorder: bool | None = None,
    active: bool | None = None,
    actor: Actor = None,
) -> Sku:
    """Change what a SKU is and costs; its stock changes only through the stock services."""
    sku = Sku.objects.filter(pk=sku_id).first()
    if sku is None:
        raise NotFound(field="sku_id", message=_("No such SKU."))
    new_currency = currency_clean(currency) if currency is not None else sku.currency
    changes: dict[str, Any] = {}
    if name is not None and name.strip() != sku.name:
        changes["name"] = name.strip()
    if new_currency != sku.currency:
        changes["currency"] = new_currency
    if price is not None:
        new_price = amount_clean(price, new_currency, field="price")
        if new_price != sku.price:
            changes["price"] = new_price
    if allow_backorder is not None and allow_backorder != sku.allow_backorder:
        changes["allow_backorder"] = allow_backorder
    if active is not None and active != sku.active:
        changes["active"] = active
    if not changes:
        return sku
    # Only the named columns: a save() of this copy must never write on_hand or
    # reserved back over a reservation made meanwhile.
    Sku.objects.filter(pk=sku.pk).update(**changes, updated_at=timezone.now())
    for field, value in changes.items():
        setattr(sku, field, value)
    if "name" in changes:
        _search_text_refresh(sku.product_id)
    event_record(event_type="sku.updated", subject=sku, actor=actor, payload=changes)
    return sku


@idempotent("stock.adjust", replay=lambda pk: Sku.objects.get(pk=pk))
@transaction.atomic
def stock_adjust(
    *,
    sku_id: int,
    note: str,
    counted: int | None = None,
    delta: int | None = None,
    actor: Actor = None,
    idempotency_key: str | None = None,
) -> Sku:
    """A stock count (`counted`: what is on the shelf) or a correction (`delta`), with a reason."""
    note = (note or "").strip()
    if not note:
        raise DomainError(field="note", message=_("Say why the stock changes."))
    number_check(counted, field="counted", low=0, high=MAX_STOCK)
    number_check(delta, field="delta", low=-MAX_STOCK, high=MAX_STOCK)
    if (counted is None) == (delta is None):
        raise DomainError(field="counted", message=_("Give either the counted stock or a change."))
    sku = Sku.objects.filter(pk=sku_id).first()
    if sku is None:
        raise NotFound(field="sku_id", message=_("No such SKU."))
    if counted is not None:
        if counted < 0:
            raise DomainError(field="counted", message=_("Stock on hand cannot be negative."))
        change = counted - sku.on_hand
        # Compare-and-set: a count is absolute, so it must apply to the number it replaced.
        guard = Q(on_hand=sku.on_hand)
    else:
        assert delta is not None
        change = delta
        guard = Q(on_hand__gte=-delta)
    if not Sku.objects.filter(guard, pk=sku.pk).update(
        on_hand=F("on_hand") + change, updated_at=timezone.now()
    ):
        if counted is not None:
            raise Conflict(field="counted", message=_("The stock changed meanwhile; count again."))
        raise DomainError(
            field="delta",
            message=_("Only %(on_hand)s on hand; cannot remove %(n)s.")
            % {"on_hand": sku.on_hand, "n": -change},
        )
    StockMovement.objects.create(
        sku=sku,
        delta_on_hand=change,
        reason=StockReason.ADJUST,
        note=note[:300],
        actor_id=actor_id_of(actor),
    )
    event_record(
        event_type="stock.adjusted",
        subject=sku,
        actor=actor,
        payload={"code": sku.code, "from": sku.on_hand, "to": sku.on_hand + change, "note": note},
        idempotency_key=idempotency_key,
    )
    sku.on_hand += change
    return sku


def _merged(lines: Iterable[StockLine]) -> dict[int, int]:
    need: dict[int, int] = {}
    for line in lines:
        if line.quantity <= 0:
            raise DomainError(field="quantity", message=_("A quantity must be above zero."))
        need[line.sku_id] = need.get(line.sku_id, 0) + line.quantity
    return need


def _per_sku(need: dict[int, int]) -> Expression:
    """The quantity for each row of the UPDATE: CASE id WHEN … THEN q … END."""
    if len(need) == 1:
        return Value(next(iter(need.values())), output_field=IntegerField())
    return Case(
        *[When(pk=sku_id, then=Value(q)) for sku_id, q in need.items()],
        default=Value(0),
        output_field=IntegerField(),
    )


class _Refused(Exception):
    """Rolls the savepoint back so the caller can read the stock as it was."""


def _stock_move(
    *,
    need: dict[int, int],
    reason: StockReason,
    event_type: str,
    on_hand_sign: int,
    reserved_sign: int,
    guard: Q,
    order_id: int | None,
    actor: Actor,
    note: str | LaterText,
) -> None:
    quantity = _per_sku(need)
    note, note_text = text_for_storing(note)
    updates: dict[str, Any] = {"updated_at": timezone.now()}
    if on_hand_sign:
        updates["on_hand"] = F("on_hand") + on_hand_sign * quantity
    if reserved_sign:
        updates["reserved"] = F("reserved") + reserved_sign * quantity
    try:
        with transaction.atomic():
            changed = Sku.objects.filter(guard, pk__in=need).update(**updates)
            if changed != len(need):
                raise _Refused
    except _Refused:
        _explain_refusal(need=need, reason=reason)
    actor_id = actor_id_of(actor)
    now = timezone.now()
    StockMovement.objects.bulk_create(
        StockMovement(
            sku_id=sku_id,
            delta_on_hand=on_hand_sign * q,
            delta_reserved=reserved_sign * q,
            reason=reason,
            order_id=order_id,
            note=note[:300],
            note_text=note_text,
            actor_id=actor_id,
            created_at=now,
        )
        for sku_id, q in need.items()
    )
    events_record_many(
        NewEvent(
            event_type=event_type,
            subject_type="sku",
            subject_id=sku_id,
            actor_id=actor_id,
            payload={"quantity": q, "order_id": order_id},
            occurred_at=now,
        )
        for sku_id, q in need.items()
    )


def _explain_refusal(*, need: dict[int, int], reason: StockReason) -> None:
    """Read the untouched stock and say which SKU refused; runs only on the failure path."""
    rows = {row.pk: row for row in Sku.objects.filter(pk__in=need)}
    missing = sorted(set(need) - set(rows))
    if missing:
        raise NotFound(field="lines", message=_("No SKU with id %(ids)s.") % {"ids": missing})
    for sku_id, q in need.items():
        sku = rows[sku_id]
        if reason == StockReason.RESERVE and not sku.allow_backorder and sku.available < q:
            raise OutOfStock(
                sku_code=sku.code, available=max(sku.available, 0), requested=q, field="lines"
            )
        if reason in (StockReason.RELEASE, StockReason.CONSUME) and sku.reserved < q:
            raise Conflict(
                field="lines",
                message=_("Only %(n)s of %(code)s are reserved; the stock records disagree.")
                % {"n": sku.reserved, "code": sku.code},
            )
    # Every row passes now: a concurrent change came and went between the two reads.
    raise Conflict(field="lines", message=_("The stock changed meanwhile; try again."))


@transaction.atomic
def stock_reserve(
    *,
    lines: Sequence[StockLine],
    order_id: int | None,
    actor: Actor = None,
    note: str | LaterText = "",
) -> None:
    """Reserve every line, or none: one line short raises OutOfStock and nothing is written.

    Safe for bulk use: one UPDATE for all lines, whatever their number.
    """
    need = _merged(lines)
    if not need:
        return
    _stock_move(
        need=need,
        reason=StockReason.RESERVE,
        event_type="stock.reserved",
        on_hand_sign=0,
        reserved_sign=+1,
        # The check and the write are one statement, so two orders racing for
        # the last unit cannot both pass it.
        guard=Q(allow_backorder=True) | Q(on_hand__gte=F("reserved") + _per_sku(need)),
        order_id=order_id,
        actor=actor,
        note=note,
    )


@dataclass(frozen=True)
class Reservation:
    """What one order of a batch holds: its lines, and the note its movements carry."""

    order_id: int
    lines: Sequence[StockLine]
    note: str | LaterText = ""


@transaction.atomic
def stock_reserve_many(*, reservations: Sequence[Reservation], actor: Actor = None) -> set[int]:
    """Reserve for many orders at once, each all or nothing; the orders that got their stock.

    What `stock_reserve` does for each order in turn, with one UPDATE for the whole batch
    when every order fits (the usual case). When one does not, the orders are reserved one
    by one in the order given, so an order short of stock leaves the stock to those after
    it exactly as it would have one delivery at a time.
    """
    wanted = [(item, _merged(item.lines)) for item in reservations]
    wanted = [(item, need) for item, need in wanted if need]
    total: dict[int, int] = {}
    for _item, need in wanted:
        for sku_id, quantity in need.items():
            total[sku_id] = total.get(sku_id, 0) + quantity
    if not total:
        return set()
    guard = Q(allow_backorder=True) | Q(on_hand__gte=F("reserved") + _per_sku(total))
    try:
        with transaction.atomic():
            changed = Sku.objects.filter(guard, pk__in=total).update(
                reserved=F("reserved") + _per_sku(total), updated_at=timezone.now()
            )
            if changed != len(total):
                raise _Refused
    except _Refused:
        reserved: set[int] = set()
        for item, _need in wanted:
            try:
                stock_reserve(lines=item.lines, order_id=item.order_id, actor=actor, note=item.note)
            except OutOfStock:
                continue
            reserved.add(item.order_id)
        return reserved
    actor_id, now = actor_id_of(actor), timezone.now()
    movements: list[tuple[Any, ...]] = []
    events: list[NewEvent] = []
    for item, need in wanted:
        note, note_text = text_for_storing(item.note)
        for sku_id, quantity in need.items():
            movements.append(
                (
                    *(sku_id, 0, quantity, StockReason.RESERVE, item.order_id),
                    *(note[:300], note_text, actor_id, now),
                )
            )
            events.append(
                NewEvent(
                    event_type="stock.reserved",
                    subject_type="sku",
                    subject_id=sku_id,
                    actor_id=actor_id,
                    payload={"quantity": quantity, "order_id": item.order_id},
                    occurred_at=now,
                )
            )
    rows_insert(
        StockMovement,
        (
            *("sku_id", "delta_on_hand", "delta_reserved", "reason", "order_id"),
            *("note", "note_text", "actor_id", "created_at"),
        ),
        movements,
    )
    events_record_many(events)
    return {item.order_id for item, _need in wanted}


@transaction.atomic
def stock_release(
    *,
    lines: Sequence[StockLine],
    order_id: int | None,
    actor: Actor = None,
    note: str | LaterText = "",
) -> None:
    """Give back what an order reserved (it was cancelled)."""
    need = _merged(lines)
    if need:
        _stock_move(
            need=need,
            reason=StockReason.RELEASE,
            event_type="stock.released",
            on_hand_sign=0,
            reserved_sign=-1,
            guard=Q(reserved__gte=_per_sku(need)),
            order_id=order_id,
            actor=actor,
            note=note,
        )


@transaction.atomic
def stock_consume(
    *,
    lines: Sequence[StockLine],
    order_id: int | None,
    actor: Actor = None,
    note: str | LaterText = "",
) -> None:
    """The reserved goods left the warehouse (shipped): on hand and reserved both go down."""
    need = _merged(lines)
    if need:
        _stock_move(
            need=need,
            reason=StockReason.CONSUME,
            event_type="stock.consumed",
            on_hand_sign=-1,
            reserved_sign=-1,
            guard=Q(reserved__gte=_per_sku(need)),
            order_id=order_id,
            actor=actor,
            note=note,
        )


@transaction.atomic
def stock_restock(
    *,
    lines: Sequence[StockLine],
    order_id: int | None,
    actor: Actor = None,
    note: str | LaterText = "",
) -> None:
    """Returned goods are back on the shelf."""
    need = _merged(lines)
    if need:
        _stock_move(
            need=need,
            reason=StockReason.RETURN,
            event_type="stock.returned",
            on_hand_sign=+1,
            reserved_sign=0,
            guard=Q(),
            order_id=order_id,
            actor=actor,
            note=note,
        )


@dataclass(frozen=True)
class SkuSeen:
    """A SKU named by an import file: its code, what the file calls it, the price it sold at."""

    code: str
    name: str
    price: Decimal
    currency: str
    category: str = ""  # the file's category of the goods, when it has one


@transaction.atomic
def skus_ensure(
    *, items: Sequence[SkuSeen], actor: Actor = None, source: str = ""
) -> dict[str, int]:
    """code -> SKU id for every item, creating a product and SKU for each code not yet known.

    Set-based for importers: one read of the known codes, bulk inserts of the
    missing products and SKUs (price as seen, no stock), one event per new SKU.
    """
    wanted = {item.code: item for item in items if item.code}
    codes = list(wanted)
    known = selectors.sku_ids_by_code(codes=codes)
    missing = [wanted[code] for code in codes if code not in known]
    if not missing:
        return known
    now = timezone.now()
    products = Product.objects.bulk_create(
        [
            Product(
                name=item.name[:200] or item.code,
                category=_category_clean(item.category[:MAX_CATEGORY]),
                search_text=f"{item.name} {item.code}".casefold()[:1000],
                created_at=now,
            )
            for item in missing
        ],
        batch_size=1000,
    )
    if any(product.pk is None for product in products):
        # SQLite < 3.35 cannot return ids from a bulk insert; Procedo needs it to.
        raise RuntimeError("the database did not return the new product ids")
    Sku.objects.bulk_create(
        [
            Sku(
                product_id=product.pk,
                code=item.code,
                price=max(item.price, Decimal(0)).quantize(Decimal("0.01")),
                currency=item.currency,
                allow_backorder=True,
                created_at=now,
            )
            for product, item in zip(products, missing, strict=True)
        ],
        batch_size=1000,
    )
    known.update(selectors.sku_ids_by_code(codes=[item.code for item in missing]))
    events_record_many(
        NewEvent(
            event_type="sku.imported",
            subject_type="sku",
            subject_id=known[item.code],
            actor_id=actor_id_of(actor),
            payload={"code": item.code, "name": item.name, "source": source},
        )
        for item in missing
    )
    return known
