"""The loyalty pages' forms: bounds only; the rules are the services'."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.bounds import MAX_AMOUNT
from procedo.core.forms import FormTokenMixin
from procedo.loyalty.codes import MAX_TYPED
from procedo.loyalty.models import RewardKind
from procedo.loyalty.services.programme import MAX_BENEFITS, MAX_TIERS, MAX_WINDOW_DAYS


def _amount(label: Any, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_value=MAX_AMOUNT,
        max_digits=13,
        decimal_places=2,
    )


class ProgramForm(forms.Form):
    window_days = forms.IntegerField(
        label=_("Spend counts over the last … days"), min_value=1, max_value=MAX_WINDOW_DAYS
    )
    friend_reward_kind = forms.ChoiceField(label=_("The friend gets"), choices=RewardKind.choices)
    friend_reward_value = _amount(_("How much (percent or amount)"), required=False)
    referrer_reward_kind = forms.ChoiceField(
        label=_("The customer who referred gets"), choices=RewardKind.choices
    )
    referrer_reward_value = _amount(_("How much (percent or amount)"), required=False)
    link_base = forms.CharField(
        label=_("Link to the store"),
        required=False,
        max_length=300,
        help_text=_("The page a shared link opens; the code is added as ?ref=CODE."),
    )
    membership_name = forms.CharField(label=_("Membership name"), required=False, max_length=100)
    membership_benefits = forms.CharField(
        label=_("Membership benefits"),
        required=False,
        max_length=MAX_BENEFITS,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TierForm(forms.Form):
    code = forms.SlugField(label=_("Code"), max_length=40, required=False)
    name = forms.CharField(label=_("Name"), max_length=80, required=False)
    min_spend = _amount(_("From spend"), required=False)
    benefits = forms.CharField(
        label=_("Benefits"),
        max_length=MAX_BENEFITS,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def is_blank(self) -> bool:
        data = getattr(self, "cleaned_data", {})
        return not any(data.get(name) not in (None, "") for name in self.fields)


TierFormSet = forms.formset_factory(TierForm, extra=2, max_num=MAX_TIERS, absolute_max=MAX_TIERS)


class AttributeForm(FormTokenMixin):
    order = forms.CharField(label=_("Order number"), max_length=40)
    code = forms.CharField(label=_("Referral code"), max_length=MAX_TYPED)


class RedeemForm(FormTokenMixin):
    order = forms.CharField(label=_("Order number"), max_length=40)


class YearForm(forms.Form):
    year = forms.IntegerField(label=_("Year"), required=False, min_value=2000, max_value=9999)
