"""Products, their variants (SKUs) with price and stock, and the audit of every stock change."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200)
    description = models.TextField(_("description"), blank=True, default="")
    # The store's own word for a kind of goods ("Чайники"); segments ask "bought in …".
    category = models.CharField(_("category"), max_length=100, blank=True, default="")
    active = models.BooleanField(_("active"), default=True)
    # Casefolded name and the SKUs' codes and names: SQLite's LIKE folds only
    # ASCII, so search for "Чашка" matches "чашка" only on a folded column.
    search_text = models.CharField(max_length=1000, blank=True, default="", editable=False)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("product")
        indexes = [
            models.Index(fields=["name", "id"], name="product_name"),
            models.Index(fields=["category", "id"], name="product_category"),
        ]

    def __str__(self) -> str:
        return self.name


class Sku(models.Model):
    """A variant that is sold and stocked: one code, one price, its own stock."""

    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="skus"
    )
    code = models.CharField(_("code"), max_length=64, unique=True)
    name = models.CharField(_("variant"), max_length=200, blank=True, default="")
    price = models.DecimalField(_("price"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    allow_backorder = models.BooleanField(_("allow backorder"), default=False)
    active = models.BooleanField(_("active"), default=True)
    # Changed only by the stock services, with conditional UPDATEs and a
    # StockMovement row for each change; never by a save() of a stale copy.
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        constraints = [
            models.CheckConstraint(condition=models.Q(reserved__gte=0), name="sku_reserved_gte_0"),
            models.CheckConstraint(condition=models.Q(price__gte=0), name="sku_price_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}".strip()

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class StockReason(models.TextChoices):
    ADJUST = "adjust", _("Stock count")
    RESERVE = "reserve", _("Reserved for an order")
    RELEASE = "release", _("Released by a cancellation")
    CONSUME = "consume", _("Shipped")
    RETURN = "return", _("Returned")


class StockMovement(models.Model):
    """One change of one SKU's stock: the audit trail that explains every on_hand and reserved."""

    # No index of its own: stock_movement_sku (sku, id) serves every read by SKU.
    sku = models.ForeignKey(
        Sku,
        verbose_name=_("SKU"),
        on_delete=models.PROTECT,
        related_name="movements",
        db_index=False,
    )
    delta_on_hand = models.IntegerField(_("on hand change"), default=0)
    delta_reserved = models.IntegerField(_("reserved change"), default=0)
    reason = models.CharField(_("reason"), max_length=16, choices=StockReason.choices)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    # A note the system wrote ("Order 10137"), as its original and parameters
    # (procedo/core/texts.py), read in each reader's language. None: a person's words.
    note_text = models.JSONField(null=True, blank=True)
    # The order that caused it. A plain id, not a foreign key: orders depend on
    # the catalog, never the other way round.
    order_id = models.BigIntegerField(_("order"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("stock movement")
        indexes = [
            models.Index(fields=["sku", "id"], name="stock_movement_sku"),
            models.Index(fields=["order_id", "id"], name="stock_movement_order"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} {self.sku_id}: {self.delta_on_hand:+d}/{self.delta_reserved:+d}"

    @property
    def note_display(self) -> str:
        return stored_text_render(self.note_text, self.note)
