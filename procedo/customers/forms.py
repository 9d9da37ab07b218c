"""The pages' forms: they check shape only; the services decide what is allowed."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.customers.models import AddressKind, ConsentState, IdentityKind, Tag
from procedo.customers.selectors import CustomerSort

_DATE = forms.DateInput(attrs={"type": "date"})


class TokenForm(forms.Form):
    # A double click or a resubmitted page reuses the token: the service writes once.
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class CustomerFilterForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        required=False,
        max_length=100,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": _("Name, email or phone"),
                "autocomplete": "off",
            }
        ),
    )
    tag = forms.ChoiceField(label=_("Tag"), required=False)
    has_orders = forms.ChoiceField(
        label=_("Orders"),
        required=False,
        choices=[("", _("Any")), ("yes", _("Has orders")), ("no", _("No orders yet"))],
    )
    last_order_after = forms.DateField(label=_("Last order from"), required=False, widget=_DATE)
    last_order_before = forms.DateField(label=_("Last order before"), required=False, widget=_DATE)
    country = forms.CharField(
        label=_("Country"),
        required=False,
        max_length=2,
        widget=forms.TextInput(attrs={"size": 3, "placeholder": "UA"}),
    )
    sort = forms.ChoiceField(label=_("Sort"), required=False, choices=CustomerSort.choices)

    def __init__(self, *args: Any, tags: list[Tag], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["tag"].choices = [("", _("Any")), *((t.name, t.name) for t in tags)]  # type: ignore[attr-defined]

    def filters(self) -> dict[str, Any]:
        """The selector's keyword arguments; call after is_valid()."""
        data = self.cleaned_data
        has_orders = {"yes": True, "no": False}.get(data.get("has_orders") or "")
        return {
            "search": data.get("q") or "",
            "tag": data.get("tag") or "",
            "has_orders": has_orders,
            "last_order_after": data.get("last_order_after"),
            "last_order_before": data.get("last_order_before"),
            "country": data.get("country") or "",
            "sort": data.get("sort") or CustomerSort.NEWEST,
        }


class CustomerCreateForm(TokenForm):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    email = forms.CharField(
        label=_("Email"), max_length=254, required=False, widget=forms.EmailInput
    )
    phone = forms.CharField(
        label=_("Phone"),
        max_length=40,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "placeholder": "067 123 45 67"}),
    )
    country = forms.CharField(
        label=_("Country"),
        max_length=2,
        required=False,
        help_text=_("Two-letter ISO code, e.g. UA, PL, DE."),
    )
    source = forms.CharField(
        label=_("Source"),
        max_length=60,
        required=False,
        help_text=_("Where they came from: Instagram, a fair, a referral…"),
    )


class CustomerEditForm(forms.Form):
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)
    source = forms.CharField(label=_("Source"), max_length=60, required=False)


class IdentityForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=IdentityKind.choices,
        widget=forms.Select(attrs={"aria-label": _("Kind")}),
    )
    value = forms.CharField(label=_("Email or phone"), max_length=254)
    marketing_consent = forms.ChoiceField(
        label=_("Marketing consent"),
        choices=ConsentState.choices,
        initial=ConsentState.UNKNOWN,
        widget=forms.Select(attrs={"aria-label": _("Marketing consent")}),
    )


class ConsentForm(forms.Form):
    state = forms.ChoiceField(label=_("Marketing consent"), choices=ConsentState.choices)
    source = forms.CharField(label=_("How they told us"), max_length=60, required=False)


class AddressForm(TokenForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=AddressKind.choices)
    line1 = forms.CharField(label=_("Address"), max_length=200)
    line2 = forms.CharField(label=_("Address line 2"), max_length=200, required=False)
    city = forms.CharField(label=_("City"), max_length=100)
    region = forms.CharField(label=_("Region"), max_length=100, required=False)
    postcode = forms.CharField(label=_("Postcode"), max_length=20, required=False)
    country = forms.CharField(label=_("Country"), max_length=2, required=False)


class TagForm(forms.Form):
    tag = forms.CharField(
        label=_("Tag"),
        max_length=60,
        widget=forms.TextInput(attrs={"list": "known-tags", "placeholder": _("Add a tag")}),
    )


class NoteForm(TokenForm):
    body = forms.CharField(
        label=_("Note"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("What should the team know?")}),
    )


class MergeForm(forms.Form):
    survivor_id = forms.IntegerField(label=_("Keep customer #"), min_value=1)
    duplicate_id = forms.IntegerField(label=_("Merge customer #"), min_value=1)


class DismissForm(forms.Form):
    customer_id = forms.IntegerField(min_value=1)
    other_id = forms.IntegerField(min_value=1)
