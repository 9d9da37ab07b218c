from __future__ import annotations

import zoneinfo

from django import forms
from django.utils.translation import gettext_lazy as _


class BusinessForm(forms.Form):
    name = forms.CharField(label=_("Business name"), max_length=200)
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[(zone, zone) for zone in sorted(zoneinfo.available_timezones())],
    )
    currency = forms.CharField(
        label=_("Currency"), min_length=3, max_length=3, help_text=_("ISO code, e.g. UAH, EUR")
    )
