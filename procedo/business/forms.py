from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
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
    language = forms.ChoiceField(
        label=_("Language of messages to customers"),
        choices=settings.LANGUAGES,
        required=False,
        help_text=_("Surveys, reminders and the words in message templates go out in it."),
    )
    quiet_hours_start = forms.TimeField(
        label=_("Marketing quiet hours from"),
        required=False,
        help_text=_("In the business's time zone, e.g. 21:00. Marketing mail waits until the end."),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    quiet_hours_end = forms.TimeField(
        label=_("Marketing quiet hours until"),
        required=False,
        help_text=_("e.g. 09:00. Leave both empty for no quiet hours."),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    marketing_cap_count = forms.IntegerField(
        label=_("Marketing messages per customer at most"),
        required=False,
        min_value=0,
        max_value=100,
        help_text=_("0: no limit. Messages over the limit wait, they are not dropped."),
    )
    marketing_cap_days = forms.IntegerField(
        label=_("… in this many days"), required=False, min_value=1, max_value=365
    )

    def clean_language(self) -> str | None:
        # Not sent (an older form, a script): the stored language stays.
        return self.cleaned_data.get("language") or None
