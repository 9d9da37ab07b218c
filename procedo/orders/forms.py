from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin
from procedo.orders.models import PaymentMethod, PaymentStatus, ShipmentStatus, StatusCategory
from procedo.orders.selectors import OrderFilters, statuses_all


def _status_choices() -> list[tuple[str, str]]:
    return [(status.code, status.label) for status in statuses_all()]


class OrderFilterForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False)
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
    customer = forms.IntegerField(
        label=_("Customer id"),
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"class": "w-6"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [("", _("Any")), *_status_choices()]  # type: ignore[attr-defined]

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
            customer_id=data["customer"],
        )


class OrderStatusForm(FormTokenMixin):
    status = forms.CharField(max_length=40)


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


class TransitionForm(forms.Form):
    from_status = forms.ChoiceField(label=_("From"))
    to_status = forms.ChoiceField(label=_("To"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = _status_choices()
        self.fields["from_status"].choices = choices  # type: ignore[attr-defined]
        self.fields["to_status"].choices = choices  # type: ignore[attr-defined]
