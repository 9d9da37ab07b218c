"""The sales pages' forms: every value bounded here as the API bounds it."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.accounts.models import User
from procedo.core.bounds import LONG_TEXT, MAX_AMOUNT
from procedo.core.forms import FormTokenMixin
from procedo.sales.models import (
    SOURCE_MAX,
    UTM_MAX,
    ContactKind,
    LeadStatus,
    StageKind,
)


def people_choices(blank: str = "—") -> list[tuple[str, str]]:
    people = User.objects.filter(is_active=True).order_by("first_name", "last_name", "username")
    return [("", blank)] + [(str(p.pk), p.get_full_name() or p.username) for p in people]


class DateInput(forms.DateInput):
    input_type = "date"


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"


class LeadForm(FormTokenMixin):
    name = forms.CharField(label=_("Name"), max_length=200)
    email = forms.CharField(label=_("Email"), max_length=254, required=False)
    phone = forms.CharField(label=_("Phone"), max_length=40, required=False)
    company = forms.CharField(label=_("Company"), max_length=200, required=False)
    source = forms.CharField(label=_("Source"), max_length=SOURCE_MAX, required=False)
    utm_campaign = forms.CharField(label=_("UTM campaign"), max_length=UTM_MAX, required=False)
    message = forms.CharField(
        label=_("Message"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    consent = forms.BooleanField(label=_("Agreed to be contacted"), required=False)


class LeadFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=200, required=False)
    status = forms.ChoiceField(
        label=_("Status"), choices=[("", _("Any")), *LeadStatus.choices], required=False
    )
    source = forms.CharField(label=_("Source"), max_length=SOURCE_MAX, required=False)


class ContactForm(forms.Form):
    kind = forms.ChoiceField(label=_("Contact"), choices=ContactKind.choices)
    note = forms.CharField(
        label=_("Note"),
        max_length=LONG_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )


class DealFieldsForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    value = forms.DecimalField(
        label=_("Deal value"), min_value=0, max_value=MAX_AMOUNT, decimal_places=2, required=False
    )
    expected_close_on = forms.DateField(label=_("Expected close"), required=False, widget=DateInput)
    owner = forms.ChoiceField(label=_("Owner"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = people_choices()  # type: ignore[attr-defined]


class QualifyForm(FormTokenMixin, DealFieldsForm):
    pipeline = forms.ChoiceField(label=_("Pipeline"))

    def __init__(self, *args: Any, pipelines: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["pipeline"].choices = [(str(p.pk), p.name) for p in pipelines]  # type: ignore[attr-defined]


class MoveForm(forms.Form):
    # The board's buttons and drops build their keys from the page's token, the card and
    # the stage (a repeat of the same move is the same key), so not a bare UUID.
    form_token = forms.CharField(max_length=150, widget=forms.HiddenInput)
    stage = forms.IntegerField(label=_("Stage"), min_value=1, max_value=2**63 - 1)
    lost_reason = forms.IntegerField(
        label=_("Lost reason"), min_value=1, max_value=2**63 - 1, required=False
    )
    lost_note = forms.CharField(label=_("Note"), max_length=500, required=False)
    view = forms.CharField(required=False, max_length=10)


class MeetingForm(FormTokenMixin):
    starts_at = forms.DateTimeField(label=_("When"), widget=DateTimeInput)
    title = forms.CharField(label=_("Title"), max_length=200, required=False)


class DealFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), max_length=200, required=False)
    pipeline = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    stage = forms.IntegerField(min_value=1, max_value=2**63 - 1, required=False)
    owner = forms.ChoiceField(label=_("Owner"), required=False)
    state = forms.ChoiceField(
        label=_("State"), choices=[("", _("Any")), *StageKind.choices], required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["owner"].choices = people_choices(str(_("Anyone")))  # type: ignore[attr-defined]


class NameForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)


class StageForm(NameForm):
    kind = forms.ChoiceField(label=_("Kind"), choices=StageKind.choices)


class LeadFormForm(NameForm):
    source = forms.CharField(label=_("Source"), max_length=SOURCE_MAX, initial="website")


class SpendForm(forms.Form):
    source = forms.CharField(label=_("Source"), max_length=SOURCE_MAX)
    month = forms.CharField(
        label=_("Month"), max_length=7, widget=forms.TextInput(attrs={"type": "month"})
    )
    # A negative amount reaches the service, which refuses it naming the field.
    amount = forms.DecimalField(label=_("Amount"), max_value=MAX_AMOUNT, decimal_places=2)


class SpendImportForm(forms.Form):
    file = forms.FileField(label=_("CSV file (source, month, amount)"))


class PeriodForm(forms.Form):
    first = forms.DateField(label=_("From"), widget=DateInput)
    last = forms.DateField(label=_("To"), widget=DateInput)
