from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin


class ProductFilterForm(forms.Form):
    q = forms.CharField(label=_("Name or SKU"), required=False, max_length=100)
    active = forms.ChoiceField(
        label=_("Show"),
        required=False,
        choices=[("", _("All")), ("1", _("Active")), ("0", _("Inactive"))],
    )

    def active_value(self) -> bool | None:
        raw = self.cleaned_data.get("active") if self.is_valid() else ""
        return None if raw in ("", None) else raw == "1"


class ProductForm(FormTokenMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    category = forms.CharField(
        label=_("Category"),
        required=False,
        max_length=100,
        help_text=_("Goods of one kind share it; segments choose customers by it."),
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)


class SkuCreateForm(FormTokenMixin):
    code = forms.CharField(label=_("Code"), max_length=64)
    name = forms.CharField(label=_("Variant"), max_length=200, required=False)
    price = forms.DecimalField(label=_("Price"), min_value=0, max_digits=14, decimal_places=2)
    currency = forms.CharField(label=_("Currency"), min_length=3, max_length=3)
    allow_backorder = forms.BooleanField(label=_("Allow backorder"), required=False)
    on_hand = forms.IntegerField(label=_("On hand"), min_value=0, initial=0)


class SkuUpdateForm(forms.Form):
    name = forms.CharField(label=_("Variant"), max_length=200, required=False)
    price = forms.DecimalField(label=_("Price"), min_value=0, max_digits=14, decimal_places=2)
    allow_backorder = forms.BooleanField(label=_("Allow backorder"), required=False)
    active = forms.BooleanField(label=_("Active"), required=False)


class StockAdjustForm(FormTokenMixin):
    counted = forms.IntegerField(label=_("Counted on hand"), min_value=0)
    note = forms.CharField(label=_("Reason"), max_length=300)
