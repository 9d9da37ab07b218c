"""The catalog's REST endpoints: thin over its services and selectors."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.http import StreamingHttpResponse
from django.utils.translation import gettext as _
from ninja import Field, Query, Router
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.catalog import selectors, services
from procedo.catalog.models import Product, Sku
from procedo.core.bounds import (
    PAGE_LIMIT_DEFAULT,
    Amount,
    Cursor,
    LongText,
    PageLimit,
    PathId,
    StockCount,
    StockDelta,
)
from procedo.core.errors import NotFound
from procedo.core.exports import filters_known
from procedo.core.idempotency import api_key, idempotency_header
from procedo.core.schemas import EXPORT_RESPONSE, ExportFormat, Schema
from procedo.events.exports import export_stream

router = Router(tags=["catalog"])


class SkuOut(Schema):
    id: int
    product_id: int
    code: str
    name: str
    price: Decimal
    currency: str
    allow_backorder: bool
    active: bool
    on_hand: int
    reserved: int
    available: int


class ProductOut(Schema):
    id: int
    name: str
    description: str
    category: str
    active: bool
    created_at: datetime
    skus: list[SkuOut]


class ProductPageOut(Schema):
    items: list[ProductOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class SkuPageOut(Schema):
    items: list[SkuOut]
    next_cursor: str | None


class ProductFilterQuery(Schema):
    """The products page's filters, by the page's names."""

    q: str = Field(default="", max_length=100, description="Name or SKU, any case.")
    active: bool | None = None


class ProductQuery(ProductFilterQuery):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class ProductExportQuery(ProductFilterQuery):
    format: ExportFormat = "csv"


class SkuQuery(Schema):
    q: str = Field(default="", max_length=100)
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class ProductIn(Schema):
    name: str = Field(min_length=1, max_length=200)
    description: LongText = ""
    category: str = Field(default="", max_length=100, description="The kind of goods.")
    active: bool = True


class ProductPatch(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: LongText | None = None
    category: str | None = Field(default=None, max_length=100)
    active: bool | None = None


class SkuIn(Schema):
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(default="", max_length=200)
    price: Amount = Field(ge=0, description='A decimal string, e.g. "249.00".')
    currency: str = Field(min_length=3, max_length=3)
    allow_backorder: bool = False
    on_hand: StockCount = 0


class SkuPatch(Schema):
    name: str | None = Field(default=None, max_length=200)
    price: Amount | None = Field(default=None, ge=0)
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    allow_backorder: bool | None = None
    active: bool | None = None


class StockAdjustIn(Schema):
    counted: StockCount | None = Field(default=None, description="What a count found on hand.")
    delta: StockDelta | None = Field(default=None, description="Or a change: +5 found, -2 broken.")
    note: str = Field(min_length=1, max_length=300, description="Why the stock changes.")


class MovementOut(Schema):
    id: int
    sku_id: int
    delta_on_hand: int
    delta_reserved: int
    reason: str
    note: str
    order_id: int | None
    actor_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_note(obj: Any) -> str:
        return str(obj.note_display)  # the system's own notes in the reader's language


class MovementQuery(Schema):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


class MovementPageOut(Schema):
    items: list[MovementOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


def _product_out(product: Product, skus: list[Sku]) -> dict[str, Any]:
    return {
        "id": product.pk,
        "name": product.name,
        "description": product.description,
        "category": product.category,
        "active": product.active,
        "created_at": product.created_at,
        "skus": skus,
    }


def _product_card(product_id: int) -> dict[str, Any]:
    card = selectors.product_detail(product_id=product_id, movements_limit=0)
    if card is None:
        raise NotFound(field="product_id", message=_("No such product."))
    return _product_out(card.product, card.skus)


@router.get("/products", response=ProductPageOut, auth=requires_api("catalog.view"))
def product_list(request: ApiRequest, filters: Query[ProductQuery]) -> dict[str, Any]:
    page = selectors.product_list(
        query=filters.q, active=filters.active, cursor=filters.cursor, limit=filters.limit
    )
    items = [_product_out(product, list(product.skus.all())) for product in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@router.get("/products/export", auth=requires_api("catalog.view"), openapi_extra=EXPORT_RESPONSE)
def product_export(
    request: ApiRequest, filters: Query[ProductExportQuery]
) -> StreamingHttpResponse:
    """Products with their stock, one row per SKU, as a CSV (UTF-8 with a BOM) or XLSX file.

    The list's filters; streamed and recorded in the log (`list.exported`).
    """
    return export_stream(
        request=request,
        actor=request.auth,
        list_name="products",
        fmt=filters.format,
        filters=filters_known(request.GET, ProductExportQuery.model_fields),
        columns=selectors.PRODUCT_COLUMNS,
        rows=selectors.product_export_rows(query=filters.q, active=filters.active),
    )


@router.get("/products/{int:product_id}", response=ProductOut, auth=requires_api("catalog.view"))
def product_detail(request: ApiRequest, product_id: PathId) -> dict[str, Any]:
    return _product_card(product_id)


@router.post("/products", response={201: ProductOut}, auth=requires_api("catalog.change"))
def product_create(
    request: ApiRequest,
    payload: ProductIn,
    idempotency_key: str | None = idempotency_header(),
) -> Status[dict[str, Any]]:
    product = services.product_create(
        **payload.dict(),
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )
    return Status(201, _product_card(product.pk))


@router.patch(
    "/products/{int:product_id}", response=ProductOut, auth=requires_api("catalog.change")
)
def product_update(
    request: ApiRequest, product_id: PathId, payload: ProductPatch
) -> dict[str, Any]:
    services.product_update(
        product_id=product_id,
        **payload.dict(exclude_unset=True),
        actor=request.auth,
    )
    return _product_card(product_id)


@router.post(
    "/products/{int:product_id}/skus", response={201: SkuOut}, auth=requires_api("catalog.change")
)
def sku_create(request: ApiRequest, product_id: PathId, payload: SkuIn) -> Status[Sku]:
    sku = services.sku_create(
        product_id=product_id,
        **payload.dict(),
        actor=request.auth,
    )
    return Status(201, sku)


@router.get("/skus", response=SkuPageOut, auth=requires_api("catalog.view"))
def sku_list(request: ApiRequest, filters: Query[SkuQuery]) -> dict[str, Any]:
    page = selectors.sku_list(query=filters.q, cursor=filters.cursor, limit=filters.limit)
    return {"items": page.items, "next_cursor": page.next_cursor}


@router.get("/skus/{int:sku_id}", response=SkuOut, auth=requires_api("catalog.view"))
def sku_get(request: ApiRequest, sku_id: PathId) -> Sku:
    sku = selectors.sku_get(sku_id=sku_id)
    if sku is None:
        raise NotFound(field="sku_id", message=_("No such SKU."))
    return sku


@router.patch("/skus/{int:sku_id}", response=SkuOut, auth=requires_api("catalog.change"))
def sku_update(request: ApiRequest, sku_id: PathId, payload: SkuPatch) -> Sku:
    return services.sku_update(
        sku_id=sku_id,
        **payload.dict(exclude_unset=True),
        actor=request.auth,
    )


@router.post("/skus/{int:sku_id}/stock", response=SkuOut, auth=requires_api("catalog.change"))
def stock_adjust(
    request: ApiRequest,
    sku_id: PathId,
    payload: StockAdjustIn,
    idempotency_key: str | None = idempotency_header(),
) -> Sku:
    """A stock count (`counted`) or a correction (`delta`); every change is kept as a movement."""
    return services.stock_adjust(
        sku_id=sku_id,
        counted=payload.counted,
        delta=payload.delta,
        note=payload.note,
        actor=request.auth,
        idempotency_key=api_key(idempotency_key),
    )


@router.get(
    "/skus/{int:sku_id}/movements", response=MovementPageOut, auth=requires_api("catalog.view")
)
def stock_movements_of_sku(
    request: ApiRequest, sku_id: PathId, page: Query[MovementQuery]
) -> dict[str, Any]:
    """The SKU's stock history, newest first."""
    movements = selectors.stock_movements_page(sku_id=sku_id, cursor=page.cursor, limit=page.limit)
    return {"items": movements.items, "next_cursor": movements.next_cursor}
