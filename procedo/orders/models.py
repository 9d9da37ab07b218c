"""Orders, their lines, the status pipeline (data, not code), payments, shipments and returns."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from procedo.core.texts import stored_text_render


class StatusCategory(models.TextChoices):
    """What a status means to the system; the code and label are the business's own words.

    Stock and timestamps follow the category, so a manager may add "awaiting
    payment" (new) or "handed to courier" (shipped) without touching code.
    """

    NEW = "new", _("New")
    CONFIRMED = "confirmed", _("Confirmed")
    PROCESSING = "processing", _("Processing")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    RETURNED = "returned", _("Returned")


# Entering one of these takes reserved stock off the shelf (it has left the warehouse).
GOODS_GONE = frozenset({StatusCategory.SHIPPED, StatusCategory.DELIVERED, StatusCategory.RETURNED})


class OrderStatus(models.Model):
    code = models.SlugField(_("code"), max_length=40, unique=True)
    label = models.CharField(_("label"), max_length=80)
    position = models.PositiveIntegerField(_("position"), default=0)
    is_final = models.BooleanField(
        _("final"), default=False, help_text=_("The order needs no more work in this status.")
    )
    category = models.CharField(_("category"), max_length=16, choices=StatusCategory.choices)
    # Data, not code: a store that packs within the hour marks only "new" editable, one
    # that confirms by phone first keeps "confirmed" editable too.
    editable = models.BooleanField(
        _("editable"),
        default=False,
        db_default=False,
        help_text=_("The lines and delivery of an order in this status can still be changed."),
    )

    class Meta:
        verbose_name = _("order status")
        verbose_name_plural = _("order statuses")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.label_display

    @property
    def label_display(self) -> str:
        """The label in the reader's language: the default statuses are translated, a label
        the business wrote itself is shown as written."""
        return gettext(self.label)


class OrderTransition(models.Model):
    """One allowed move of the pipeline; a move without a row here is refused."""

    from_status = models.ForeignKey(
        OrderStatus, to_field="code", on_delete=models.CASCADE, related_name="transitions_out"
    )
    to_status = models.ForeignKey(
        OrderStatus, to_field="code", on_delete=models.CASCADE, related_name="transitions_in"
    )

    class Meta:
        verbose_name = _("order status transition")
        constraints = [
            models.UniqueConstraint(
                fields=["from_status", "to_status"], name="order_transition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.from_status_id} → {self.to_status_id}"


class OrderCounter(models.Model):
    """The last order number handed out; one row, bumped with UPDATE … SET value = value + 1."""

    name = models.CharField(max_length=40, primary_key=True)
    value = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class OrderKind(models.TextChoices):
    """A sale, or a return document that credits goods back (an imported credit note).

    A return document has positive quantities and total, like the invoice it
    reverses; what it means for money (revenue, lifetime value) is the negative.
    """

    SALE = "sale", _("Sale")
    RETURN = "return", _("Return")


class StockState(models.TextChoices):
    NONE = "none", _("Not reserved")
    RESERVED = "reserved", _("Reserved")
    CONSUMED = "consumed", _("Shipped")
    RELEASED = "released", _("Released")


class PaymentMethod(models.TextChoices):
    CARD = "card", _("Card")
    CASH_ON_DELIVERY = "cod", _("Cash on delivery")
    BANK_TRANSFER = "bank_transfer", _("Bank transfer")
    CASH = "cash", _("Cash")
    OTHER = "other", _("Other")


class OrderChannel(models.TextChoices):
    """Where an order taken by a person came from. `Order.channel` is free text (a shop's
    webhook or an import may bring its own word); these are the ones the order form offers."""

    PHONE = "phone", _("Phone call")
    INSTAGRAM = "instagram", _("Instagram")
    TELEGRAM = "telegram", _("Telegram")
    VIBER = "viber", _("Viber")
    FACEBOOK = "facebook", _("Facebook")
    STORE = "store", _("In the store")
    WEBSITE = "website", _("Website")
    OTHER = "other", _("Other")


class DeliveryCarrier(models.TextChoices):
    NOVA_POSHTA = "nova_poshta", _("Nova Poshta")
    UKRPOSHTA = "ukrposhta", _("Ukrposhta")
    MEEST = "meest", _("Meest")
    COURIER = "courier", _("Own courier")
    PICKUP = "pickup", _("Pickup from the store")
    OTHER = "other", _("Other carrier")


class DeliveryPoint(models.TextChoices):
    """Where the carrier hands the parcel over."""

    BRANCH = "branch", _("Branch or parcel locker")
    ADDRESS = "address", _("Address")


class Order(models.Model):
    number = models.CharField(_("number"), max_length=40, unique=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # order_customer_placed starts with it
    )
    status = models.ForeignKey(
        OrderStatus,
        verbose_name=_("status"),
        to_field="code",
        db_column="status",
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # order_status_placed starts with it
    )
    kind = models.CharField(
        _("kind"), max_length=10, choices=OrderKind.choices, default=OrderKind.SALE
    )
    currency = models.CharField(_("currency"), max_length=3)
    subtotal = models.DecimalField(_("subtotal"), max_digits=14, decimal_places=2)
    discount_total = models.DecimalField(_("discount"), max_digits=14, decimal_places=2)
    shipping_total = models.DecimalField(_("shipping"), max_digits=14, decimal_places=2)
    total = models.DecimalField(_("total"), max_digits=14, decimal_places=2)
    placed_at = models.DateTimeField(_("placed at"), default=timezone.now)
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed at"), null=True, blank=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    shipped_at = models.DateTimeField(_("shipped at"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    ship_country = models.CharField(_("ship to country"), max_length=2, blank=True, default="")
    channel = models.CharField(_("channel"), max_length=40, blank=True, default="")
    source = models.CharField(_("source"), max_length=100, blank=True, default="")
    # The shop's own id of the order: an import or a webhook delivered twice
    # finds the order it made the first time instead of making another.
    external_ref = models.CharField(
        _("external reference"), max_length=100, null=True, blank=True, unique=True
    )
    stock_state = models.CharField(
        _("stock"), max_length=10, choices=StockState.choices, default=StockState.NONE
    )
    note = models.TextField(_("note"), blank=True, default="")
    # How the customer wants it: what the person taking the order agreed, before any
    # shipment or payment exists (those are their own rows once they happen). Database
    # defaults too: importers and benches insert orders with their own column lists.
    payment_method = models.CharField(
        _("payment method"),
        max_length=20,
        choices=PaymentMethod.choices,
        blank=True,
        default="",
        db_default="",
    )
    delivery_carrier = models.CharField(
        _("carrier"),
        max_length=20,
        choices=DeliveryCarrier.choices,
        blank=True,
        default="",
        db_default="",
    )
    delivery_point = models.CharField(
        _("delivery to"),
        max_length=10,
        choices=DeliveryPoint.choices,
        blank=True,
        default="",
        db_default="",
    )
    delivery_city = models.CharField(
        _("city"), max_length=100, blank=True, default="", db_default=""
    )
    delivery_branch = models.CharField(
        _("branch"), max_length=100, blank=True, default="", db_default=""
    )
    delivery_address = models.CharField(
        _("address"), max_length=200, blank=True, default="", db_default=""
    )
    recipient_name = models.CharField(
        _("recipient"), max_length=150, blank=True, default="", db_default=""
    )
    recipient_phone = models.CharField(  # E.164, like a customer's phone
        _("recipient's phone"), max_length=20, blank=True, default="", db_default=""
    )
    manager = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("manager"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # order_manager_placed starts with it
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("order")
        indexes = [
            # One per way the list is read, each ending in the keyset (placed_at, id).
            models.Index(fields=["placed_at", "id"], name="order_placed"),
            models.Index(fields=["status", "placed_at", "id"], name="order_status_placed"),
            models.Index(fields=["customer", "placed_at", "id"], name="order_customer_placed"),
            models.Index(fields=["manager", "placed_at", "id"], name="order_manager_placed"),
            # Search by the recipient's phone (a gift sent to someone who is not the customer).
            models.Index(
                fields=["recipient_phone"],
                name="order_recipient_phone",
                condition=~models.Q(recipient_phone=""),
            ),
            # Date triggers ("30 days after delivery") sweep a band of delivered_at every
            # minute; without it each sweep reads every order (make bench, B3).
            models.Index(
                fields=["delivered_at"],
                name="order_delivered",
                condition=models.Q(delivered_at__isnull=False),
            ),
            # The morning page's "waiting" block counts each open status and its oldest
            # entry from this index alone; through order_status_placed it read every waiting
            # order's row (0.5 s at 3 M orders on SQLite, make bench, B9).
            models.Index(fields=["status", "status_changed_at"], name="order_status_changed"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_gte_0"),
        ]

    def __str__(self) -> str:
        return self.number

    @property
    def channel_label(self) -> str:
        """The channel in the reader's words when it is one the form offers, else as written."""
        try:
            return str(OrderChannel(self.channel).label)
        except ValueError:
            return self.channel

    @property
    def delivery_place(self) -> str:
        """One line for the list and the card: "Київ, branch 12" or "Львів, вул. Городоцька 1"."""
        where = self.delivery_branch if self.delivery_point == DeliveryPoint.BRANCH else ""
        where = where or self.delivery_address
        return ", ".join(part for part in (self.delivery_city, where) if part)


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    sku = models.ForeignKey(
        "catalog.Sku", null=True, blank=True, on_delete=models.PROTECT, related_name="order_lines"
    )
    # Copied from the SKU when the order is placed: the line says what was sold
    # even if the SKU is renamed, repriced or was never in the catalog.
    sku_code = models.CharField(_("SKU"), max_length=64, blank=True, default="")
    description = models.CharField(_("description"), max_length=300)
    quantity = models.PositiveIntegerField(_("quantity"))
    # Wholesale unit prices go below a cent (0.001); line totals are rounded money.
    unit_price = models.DecimalField(_("unit price"), max_digits=16, decimal_places=4)
    discount = models.DecimalField(_("discount"), max_digits=14, decimal_places=2, default=0)
    line_total = models.DecimalField(_("line total"), max_digits=14, decimal_places=2)

    class Meta:
        verbose_name = _("order line")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="order_line_quantity_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.description}"


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    AUTHORIZED = "authorized", _("Authorized")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")
    REFUNDED = "refunded", _("Refunded")


# Money that reached the business: a refunded payment was paid first.
PAYMENT_RECEIVED = (PaymentStatus.PAID, PaymentStatus.REFUNDED)


class Payment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="payments")
    method = models.CharField(_("method"), max_length=20, choices=PaymentMethod.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    status = models.CharField(_("status"), max_length=12, choices=PaymentStatus.choices)
    # The payment provider's id: its webhook, delivered twice, updates one row.
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="payment_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency} {self.status}"


class Refund(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    payment = models.ForeignKey(
        Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="refunds"
    )
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3)
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    # A reason the system wrote ("Reversed in LiqPay"), as its original and parameters
    # (procedo/core/texts.py), read in each reader's language. None: as written.
    reason_text = models.JSONField(null=True, blank=True)
    external_id = models.CharField(max_length=100, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("refund")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_gt_0"),
        ]

    def __str__(self) -> str:
        return f"-{self.amount} {self.currency}"

    @property
    def reason_display(self) -> str:
        return stored_text_render(self.reason_text, self.reason)


class ShipmentStatus(models.TextChoices):
    CREATED = "created", _("Label created")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Delivery failed")
    RETURNED = "returned", _("Returned to sender")


class Shipment(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="shipments")
    carrier = models.CharField(_("carrier"), max_length=60)
    tracking_number = models.CharField(_("tracking number"), max_length=100, blank=True, default="")
    status = models.CharField(
        _("status"), max_length=20, choices=ShipmentStatus.choices, default=ShipmentStatus.CREATED
    )
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("shipment")
        ordering = ["id"]
        indexes = [
            models.Index(fields=["carrier", "tracking_number"], name="shipment_tracking"),
            # The search box finds an order by its tracking number alone, carrier unknown.
            models.Index(fields=["tracking_number"], name="shipment_tracking_number"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number}".strip()


class ShipmentStatusChange(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=20, blank=True, default="")
    to_status = models.CharField(max_length=20, choices=ShipmentStatus.choices)
    note = models.CharField(_("note"), max_length=300, blank=True, default="")
    occurred_at = models.DateTimeField(_("at"), default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("shipment status change")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class ReturnStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    RECEIVED = "received", _("Received")
    REJECTED = "rejected", _("Rejected")


class Return(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="returns")
    status = models.CharField(
        _("status"), max_length=12, choices=ReturnStatus.choices, default=ReturnStatus.REQUESTED
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")
    restock = models.BooleanField(_("back to stock"), default=True)
    received_at = models.DateTimeField(_("received at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("return")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"return {self.pk} of order {self.order_id}"


class ReturnLine(models.Model):
    return_request = models.ForeignKey(Return, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="returned")
    quantity = models.PositiveIntegerField(_("quantity"))

    class Meta:
        verbose_name = _("returned line")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="return_line_quantity_gt_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} of line {self.order_line_id}"
