"""Customers and what identifies, reaches and describes them.

Every write goes through `procedo.customers.services`; these models hold only
what belongs to one row. Casefolded `*_key` columns exist because SQLite's
LOWER() and LIKE fold only ASCII, and names here are often Cyrillic.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The list pages read only customers that were not merged away: every list index
# is partial on this condition, so merged tombstones never cost a page anything.
LIVE = Q(merged_into__isnull=True)


class IdentityKind(models.TextChoices):
    EMAIL = "email", _("Email")
    PHONE = "phone", _("Phone")


class ConsentState(models.TextChoices):
    UNKNOWN = "unknown", _("Unknown")
    GRANTED = "granted", _("Granted")
    DENIED = "denied", _("Denied")


class AddressKind(models.TextChoices):
    SHIPPING = "shipping", _("Shipping")
    BILLING = "billing", _("Billing")


def display_name(first_name: str, last_name: str, company: str, pk: int | None) -> str:
    """How a customer is named on every page: the full name, else the company, else its id."""
    full = " ".join(part for part in (first_name, last_name) if part)
    return full or company or f"#{pk}"


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=60)
    # Casefolded name: "VIP", "vip" and "Vip" are one tag, "ОПТ" and "опт" too.
    name_key = models.CharField(max_length=60, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("tag")
        ordering = ["name_key"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """A person or company that buys (or may buy).

    Order aggregates (orders_count, lifetime_value, first/last order) are kept
    by the order services.
    """

    first_name = models.CharField(_("first name"), max_length=150, blank=True, default="")
    last_name = models.CharField(_("last name"), max_length=150, blank=True, default="")
    company = models.CharField(_("company"), max_length=200, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    source = models.CharField(_("source"), max_length=60, blank=True, default="")
    external_ref = models.CharField(max_length=100, null=True, blank=True, unique=True)
    # Casefolded name, emails and phone digits: SQLite's LIKE folds only ASCII,
    # so Cyrillic search runs on this column with a case-sensitive prefix match.
    # The list search itself uses CustomerSearchTerm, whose rows an index can seek.
    search_text = models.CharField(max_length=500, blank=True, default="")
    # Casefolded "first last", for finding two records of one person.
    name_key = models.CharField(max_length=301, blank=True, default="")
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    orders_count = models.PositiveIntegerField(_("orders"), default=0)
    lifetime_value = models.DecimalField(
        _("lifetime value"), max_digits=14, decimal_places=2, default=Decimal("0")
    )
    # No plain index: SQLite's planner would pick it for "IS NULL" and sort every
    # live customer. The partial index below serves "merged into X" instead.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        db_index=False,
    )
    merged_at = models.DateTimeField(_("merged at"), null=True, blank=True)
    tags: models.ManyToManyField[Tag, CustomerTag] = models.ManyToManyField(
        Tag, through="CustomerTag", related_name="customers", verbose_name=_("tags"), blank=True
    )

    class Meta:
        verbose_name = _("customer")
        indexes = [
            models.Index(fields=["created_at", "id"], name="customer_newest", condition=LIVE),
            models.Index(fields=["lifetime_value", "id"], name="customer_value", condition=LIVE),
            models.Index(
                fields=["country", "created_at", "id"], name="customer_country", condition=LIVE
            ),
            models.Index(fields=["last_order_at"], name="customer_last_order", condition=LIVE),
            models.Index(
                fields=["merged_into"],
                name="customer_merged_into",
                condition=Q(merged_into__isnull=False),
            ),
            models.Index(
                fields=["name_key"], name="customer_name_key", condition=LIVE & ~Q(name_key="")
            ),
        ]

    def __str__(self) -> str:
        return display_name(self.first_name, self.last_name, self.company, self.pk)

    # Read from prefetched identities (selectors prefetch them); no query each.
    @property
    def emails(self) -> list[str]:
        return [i.value for i in self.identities.all() if i.kind == IdentityKind.EMAIL]

    @property
    def phones(self) -> list[str]:
        return [i.value for i in self.identities.all() if i.kind == IdentityKind.PHONE]


class Identity(models.Model):
    """An email (lower-case) or phone (E.164) that belongs to one customer in the whole store."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(_("kind"), max_length=10, choices=IdentityKind.choices)
    value = models.CharField(_("value"), max_length=254)
    # Phones only: the last 9 digits, equal however the number was written or
    # mis-parsed (+380 67…, +48 67…); two customers sharing it are likely one.
    phone_tail = models.CharField(max_length=9, blank=True, default="")
    # Marketing consent for this channel (email for an email, SMS for a phone).
    marketing_consent = models.CharField(
        _("marketing consent"),
        max_length=10,
        choices=ConsentState.choices,
        default=ConsentState.UNKNOWN,
    )
    consent_changed_at = models.DateTimeField(_("consent changed at"), null=True, blank=True)
    consent_source = models.CharField(_("consent source"), max_length=60, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("identity")
        verbose_name_plural = _("identities")
        constraints = [
            models.UniqueConstraint(fields=["kind", "value"], name="customer_identity_unique"),
        ]
        indexes = [
            models.Index(
                fields=["phone_tail", "customer"],
                name="customer_identity_tail",
                condition=~Q(phone_tail=""),
            ),
        ]

    def __str__(self) -> str:
        return self.value


class Address(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="addresses")
    kind = models.CharField(
        _("kind"), max_length=10, choices=AddressKind.choices, default=AddressKind.SHIPPING
    )
    line1 = models.CharField(_("address"), max_length=200)
    line2 = models.CharField(_("address line 2"), max_length=200, blank=True, default="")
    city = models.CharField(_("city"), max_length=100)
    region = models.CharField(_("region"), max_length=100, blank=True, default="")
    postcode = models.CharField(_("postcode"), max_length=20, blank=True, default="")
    country = models.CharField(_("country"), max_length=2, blank=True, default="")
    # Normalised for "same person at the same place": postcode without spaces,
    # and casefolded "city|line1".
    postcode_key = models.CharField(max_length=20, blank=True, default="")
    place_key = models.CharField(max_length=302, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")

    def __str__(self) -> str:
        parts = (self.line1, self.line2, self.city, self.region, self.postcode, self.country)
        return ", ".join(part for part in parts if part)


class CustomerTag(models.Model):
    # No single-column indexes: (customer, tag) and (tag, customer) below lead with each.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique"),
        ]
        indexes = [models.Index(fields=["tag", "customer"], name="customer_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"


class Note(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("author"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(_("note"))
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("note")

    def __str__(self) -> str:
        return self.body[:60]


class CustomerSearchTerm(models.Model):
    """One casefolded word, name, email or phone-digit form of a live customer.

    Search is a prefix range on `term` (>= q AND < q-with-last-char+1), which a
    B-tree index seeks on both databases; a "contains" over one long column
    cannot use an index. On PostgreSQL the column is COLLATE "C" (migration
    0003), so the range follows code points whatever the database's locale.
    Merged customers have no terms.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=100)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["term", "customer"], name="customer_search_term"),
        ]

    def __str__(self) -> str:
        return self.term


class DuplicateDismissal(models.Model):
    """A person said these two customers are different people; stop proposing the pair."""

    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    dismissed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer_a", "customer_b"], name="customer_dismissal_unique"
            ),
            models.CheckConstraint(
                condition=Q(customer_a__lt=models.F("customer_b")),
                name="customer_dismissal_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer_a_id} ≠ {self.customer_b_id}"
