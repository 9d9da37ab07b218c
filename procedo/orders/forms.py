from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.bounds import MAX_ID, MAX_ITEMS, MAX_QUANTITY
from procedo.core.errors import DomainError
from procedo.core.forms import FormTokenMixin, choices_set
from procedo.customers.normalise import phone_normalise
from procedo.orders.models import (
    DeliveryCarrier,
    DeliveryPoint,
    Order,
    OrderChannel,
    PaymentMethod,
    PaymentStatus,
    ShipmentStatus,
    StatusCategory,
)
from procedo.orders.selectors import OrderFilters, PreviewLine, managers_all, statuses_all
from procedo.orders.services.lines import DeliveryIn, OrderLineIn


def _status_choices() -> list[tuple[str, str]]:
    return [(status.code, status.label_display) for status in statuses_all()]


def manager_choices() -> list[tuple[int, str]]:
    return [(user.pk, str(user)) for user in managers_all()]


class OrderFilterForm(forms.Form):
    """The list's filters; the status comes from the tab, the customer id from a card's link."""

    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Number, phone or tracking number"),
                "autocomplete": "off",
            }
        ),
    )
    customer = forms.CharField(
        label=_("Customer"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={"type": "search", "placeholder": _("Name"), "autocomplete": "off"}
        ),
    )
    manager = forms.TypedChoiceField(
        label=_("Manager"), required=False, coerce=int, empty_value=None
    )
    placed_from = forms.DateField(
        label=_("Placed from"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(
        label=_("to"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    amount_min = forms.DecimalField(
        label=_("Total from"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"class": "w-7"}),
    )
    amount_max = forms.DecimalField(
        label=_("to"),
        required=False,
        min_value=0,
        max_digits=14,
        decimal_places=2,
        widget=forms.NumberInput(attrs={"class": "w-7"}),
    )
    status = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    customer_id = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(self, "manager", [("", _("Anyone")), *manager_choices()])

    def filters(self) -> OrderFilters:
        if not self.is_valid():
            return OrderFilters()
        data = self.cleaned_data
        return OrderFilters(
            status=data["status"] or None,
            placed_from=data["placed_from"],
            placed_to=data["placed_to"],
            amount_min=data["amount_min"],
            amount_max=data["amount_max"],
            customer_id=data["customer_id"],
            query=data["q"],
            customer=data["customer"],
            manager_id=data["manager"],
        )


class OrderStatusForm(FormTokenMixin):
    status = forms.CharField(max_length=40)
    # Set by the person's "yes" on the warning that the order has no shipment or payment.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)


class BulkStatusForm(FormTokenMixin):
    status = forms.ChoiceField(label=_("Move the chosen orders to"))
    order = forms.TypedMultipleChoiceField(coerce=int)  # filled from what was posted
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "bulk_%s")  # the list's filters have a status too
        super().__init__(*args, **kwargs)
        choices_set(self, "status", [("", "—"), *_status_choices()])
        posted = self.data.getlist("order") if hasattr(self.data, "getlist") else []
        choices_set(self, "order", [(value, value) for value in posted[:MAX_ITEMS]])

    def clean_order(self) -> list[int]:
        chosen = [pk for pk in self.cleaned_data["order"] if 1 <= pk <= MAX_ID]
        if not chosen:
            raise forms.ValidationError(_("Tick the orders to move."))
        return chosen


class DeliveryForm(forms.Form):
    """How the order travels and is paid. Branch and address are both in the page; the
    stylesheet shows the one the chosen "delivery to" needs."""

    carrier = forms.ChoiceField(
        label=_("Carrier"),
        required=False,
        choices=[("", _("Not agreed yet")), *DeliveryCarrier.choices],
    )
    point = forms.ChoiceField(
        label=_("Delivery to"),
        required=False,
        choices=DeliveryPoint.choices,
        initial=DeliveryPoint.BRANCH,
        widget=forms.RadioSelect,
    )
    city = forms.CharField(label=_("City"), required=False, max_length=100)
    branch = forms.CharField(
        label=_("Branch or parcel locker"),
        required=False,
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": _("e.g. Branch No. 12")}),
    )
    address = forms.CharField(label=_("Street, house, flat"), required=False, max_length=200)
    recipient_name = forms.CharField(
        label=_("Recipient"),
        required=False,
        max_length=150,
        help_text=_("If someone else receives the parcel."),
    )
    recipient_phone = forms.CharField(
        label=_("Recipient's phone"),
        required=False,
        max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
    )
    payment_method = forms.ChoiceField(
        label=_("Payment"),
        required=False,
        choices=[("", _("Not agreed yet")), *PaymentMethod.choices],
    )
    shipping = forms.DecimalField(
        label=_("Delivery charge"),
        required=False,
        min_value=0,
        max_value=Decimal("999999999.99"),
        max_digits=14,
        decimal_places=2,
        initial=0,
        help_text=_("Added to the total; leave 0 when the customer pays the carrier."),
        widget=forms.NumberInput(attrs={"class": "w-7", "step": "0.01"}),
    )
    note = forms.CharField(
        label=_("Note"),
        required=False,
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    # Service fields (`delivery.city`) by the form field that shows them.
    REFUSAL_FIELDS = {
        "delivery.carrier": "carrier",
        "delivery.point": "point",
        "delivery.city": "city",
        "delivery.branch": "branch",
        "delivery.address": "address",
        "delivery.recipient_name": "recipient_name",
        "delivery.recipient_phone": "recipient_phone",
    }

    def clean_recipient_phone(self) -> str:
        raw: str = self.cleaned_data["recipient_phone"].strip()
        if raw:
            _phone_check(raw)
        return raw

    def delivery(self) -> DeliveryIn:
        data = self.cleaned_data
        return DeliveryIn(
            carrier=data["carrier"],
            point=data["point"] or "",
            city=data["city"],
            branch=data["branch"],
            address=data["address"],
            recipient_name=data["recipient_name"],
            recipient_phone=data["recipient_phone"],
        )


class DeliveryEditForm(FormTokenMixin, DeliveryForm):
    pass


def _phone_check(raw: str) -> None:
    try:
        phone_normalise(raw)
    except DomainError as exc:
        raise forms.ValidationError(exc.message) from None


class OrderCreateForm(FormTokenMixin, DeliveryForm):
    """A new order taken by a person: who orders (a customer picked on their card, or a
    phone to find or make one), where it came from, who manages it, how it travels."""

    customer_id = forms.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, widget=forms.HiddenInput
    )
    phone = forms.CharField(
        label=_("Customer's phone"),
        required=False,
        max_length=40,
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "off", "placeholder": "067 123 45 67"}
        ),
    )
    first_name = forms.CharField(label=_("First name"), required=False, max_length=150)
    last_name = forms.CharField(label=_("Last name"), required=False, max_length=150)
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    channel = forms.ChoiceField(
        label=_("Came by"), choices=OrderChannel.choices, initial=OrderChannel.PHONE
    )
    manager = forms.TypedChoiceField(
        label=_("Manager"), required=False, coerce=int, empty_value=None
    )
    # Free text the order keeps (an ad, a campaign); "ref:CODE" makes it a customer's
    # referral (the loyalty app's placement hook reads it).
    source = forms.CharField(
        label=_("Source"),
        required=False,
        max_length=100,
        help_text=_("Where the order came from; a referral code as ref:CODE."),
    )

    REFUSAL_FIELDS = {
        **DeliveryForm.REFUSAL_FIELDS,
        "customer.phone": "phone",
        "customer.email": "email",
        "customer.first_name": "first_name",
        "customer.last_name": "last_name",
        "customer": "phone",
        "customer_id": "phone",
        "manager_id": "manager",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices_set(self, "manager", [("", _("Nobody yet")), *manager_choices()])

    def clean_phone(self) -> str:
        raw: str = self.cleaned_data["phone"].strip()
        if raw:
            _phone_check(raw)
        return raw

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("customer_id") and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", _("Give the customer's phone."))
        return data


class LineRow:
    """One line of the order form as posted (or as the order has it): what the form shows
    again after a refusal, and what the service is given."""

    def __init__(
        self,
        *,
        sku_id: str = "",
        quantity: str = "1",
        unit_price: str = "",
        discount: str = "",
        description: str = "",
    ) -> None:
        self.sku_id, self.quantity = sku_id.strip(), quantity.strip()
        self.unit_price, self.discount = unit_price.strip(), discount.strip()
        self.description = description.strip()
        self.sku: Any = None  # the catalog's Sku, for its name, price and stock
        self.available = 0  # free for this order: the SKU's, plus what the order holds
        self.errors: list[str] = []

    def preview_line(self) -> PreviewLine:
        try:
            quantity = int(self.quantity)
        except ValueError:
            quantity = 0
        return PreviewLine(
            sku=self.sku,
            quantity=quantity if 0 < quantity <= MAX_QUANTITY else 0,
            unit_price=_decimal(self.unit_price) if self.unit_price else None,
            discount=_decimal(self.discount) or Decimal("0") if self.discount else Decimal("0"),
        )


def rows_of(order: Order) -> list[LineRow]:
    """The order's lines as form rows, keeping each line's agreed price and discount."""
    return [
        LineRow(
            sku_id=str(line.sku_id or ""),
            quantity=str(line.quantity),
            unit_price=str(line.unit_price),
            discount=str(line.discount) if line.discount else "",
            description=line.description,
        )
        for line in order.line_rows  # type: ignore[attr-defined]
    ]


def delivery_initial(order: Order) -> dict[str, Any]:
    return {
        "carrier": order.delivery_carrier,
        "point": order.delivery_point or DeliveryPoint.BRANCH,
        "city": order.delivery_city,
        "branch": order.delivery_branch,
        "address": order.delivery_address,
        "recipient_name": order.recipient_name,
        "recipient_phone": order.recipient_phone,
        "payment_method": order.payment_method,
        "shipping": order.shipping_total,
        "note": order.note,
    }


class OrderLinesForm(FormTokenMixin):
    """The lines as rows of parallel inputs (`line_sku`, `line_qty`, …): rows come and go in
    the page, so they are not Django fields; each row keeps its own errors."""

    def __init__(self, *args: Any, rows: list[LineRow] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rows: list[LineRow] = rows if rows is not None else self._posted_rows()
        self.lines_errors: list[str] = []

    def _posted_rows(self) -> list[LineRow]:
        if not self.is_bound or not hasattr(self.data, "getlist"):
            return []
        columns = [
            self.data.getlist(name)[: MAX_ITEMS + 1]
            for name in ("line_sku", "line_qty", "line_price", "line_discount", "line_text")
        ]
        count = len(columns[1])
        padded = [column + [""] * (count - len(column)) for column in columns]
        return [
            LineRow(
                sku_id=padded[0][i][:20],
                quantity=padded[1][i][:12],
                unit_price=padded[2][i][:20],
                discount=padded[3][i][:20],
                description=padded[4][i][:300],
            )
            for i in range(count)
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.rows:
            self.lines_errors.append(str(_("Add at least one line.")))
        if len(self.rows) > MAX_ITEMS:
            self.lines_errors.append(str(_("At most %(n)s lines.") % {"n": MAX_ITEMS}))
        for row in self.rows:
            try:
                quantity = int(row.quantity)
            except ValueError:
                quantity = 0
            if not 1 <= quantity <= MAX_QUANTITY:
                row.errors.append(str(_("A quantity from 1 to %(max)s.") % {"max": MAX_QUANTITY}))
            if row.sku_id and not row.sku_id.isdigit():
                row.errors.append(str(_("Choose the product again.")))
            for value in (row.unit_price, row.discount):
                if value and _decimal(value) is None:
                    row.errors.append(str(_("Not a price.")))
        if self.lines_errors or any(row.errors for row in self.rows):
            raise forms.ValidationError(_("Check the lines."))
        return data

    def lines(self) -> list[OrderLineIn]:
        return [
            OrderLineIn(
                quantity=int(row.quantity),
                sku_id=int(row.sku_id) if row.sku_id else None,
                description=row.description,
                unit_price=_decimal(row.unit_price),
                discount=_decimal(row.discount) or Decimal("0"),
            )
            for row in self.rows
        ]

    def refusal(self, field: str, message: str) -> None:
        """A service's refusal on its row (`lines.2.quantity`) or above the lines."""
        parts = field.split(".")
        if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            if index < len(self.rows):
                self.rows[index].errors.append(message)
                return
        self.lines_errors.append(message)


def _decimal(value: str) -> Decimal | None:
    try:
        number = Decimal(value.replace(",", "."))
    except (InvalidOperation, ValueError):
        return None
    if not number.is_finite() or not Decimal(0) <= number <= Decimal("999999999.99"):
        return None
    return number


class PaymentForm(FormTokenMixin):
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=14, decimal_places=2)
    method = forms.ChoiceField(label=_("Method"), choices=PaymentMethod.choices)
    status = forms.ChoiceField(
        label=_("Status"),
        choices=[(value, label) for value, label in PaymentStatus.choices if value != "refunded"],
        initial=PaymentStatus.PAID,
    )
    external_id = forms.CharField(
        label=_("Payment reference"),
        max_length=100,
        required=False,
        help_text=_("The payment provider's id, if any."),
    )


class RefundForm(FormTokenMixin):
    amount = forms.DecimalField(label=_("Amount"), min_value=0, max_digits=14, decimal_places=2)
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class ShipmentForm(FormTokenMixin):
    carrier = forms.CharField(label=_("Carrier"), max_length=60)
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=100, required=False)


class ShipmentStatusForm(FormTokenMixin):
    status = forms.ChoiceField(label=_("Status"), choices=ShipmentStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=300, required=False)


class StatusCreateForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, help_text=_("e.g. awaiting_payment"))
    label = forms.CharField(label=_("Label"), max_length=80)
    category = forms.ChoiceField(
        label=_("Means"),
        choices=StatusCategory.choices,
        help_text=_("What Procedo does on entering it: stock and timestamps follow this."),
    )
    position = forms.IntegerField(label=_("Position"), min_value=0, required=False)
    is_final = forms.BooleanField(label=_("Final"), required=False)
    editable = forms.BooleanField(
        label=_("Editable"),
        required=False,
        help_text=_("Lines and delivery can still be changed in this status."),
    )


class TransitionForm(forms.Form):
    from_status = forms.ChoiceField(label=_("From"))
    to_status = forms.ChoiceField(label=_("To"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _status_choices()
        self.fields["from_status"].choices = choices  # type: ignore[attr-defined]
        self.fields["to_status"].choices = choices  # type: ignore[attr-defined]
