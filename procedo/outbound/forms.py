from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin
from procedo.outbound.catalog import EVENT_TYPES
from procedo.outbound.models import NAME_MAX, URL_MAX
from procedo.outbound.services import REASON_MAX


class SubscriptionForm(FormTokenMixin):
    name = forms.CharField(
        label=_("Name"),
        max_length=NAME_MAX,
        help_text=_("For you: what receives these events (“Warehouse system”)."),
    )
    # A plain text field: the service says what is wrong with an address, in one place.
    url = forms.CharField(
        label=_("Address"),
        max_length=URL_MAX,
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/procedo-events"}),
        help_text=_("Procedo sends each event there as a signed POST request."),
    )
    event_types = forms.MultipleChoiceField(
        label=_("Events to send"),
        choices=list(EVENT_TYPES.items()),
        widget=forms.CheckboxSelectMultiple,
    )


class PauseForm(forms.Form):
    reason = forms.CharField(label=_("Why"), max_length=REASON_MAX, required=False)


class SendTestForm(FormTokenMixin):
    pass
