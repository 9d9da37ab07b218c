"""The activity log's filters: who, what, when."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from procedo.accounts.models import User
from procedo.core.bounds import EARLIEST_YEAR, LATEST_YEAR

# What a person asks for, as the event types it covers.
KINDS: dict[str, tuple[Any, tuple[str, ...]]] = {
    "orders": (
        _("Orders, payments, parcels"),
        (
            "order.",
            "payment.",
            "refund.",
            "shipment.",
            "return.",
            "order_status.",
            "order_transition.",
        ),
    ),
    "customers": (_("Customers"), ("customer.",)),
    "tasks": (_("Tasks"), ("task.", "work.")),
    "sops": (
        _("SOPs and their runs"),
        ("sop.", "sop_revision.", "sop_feedback.", "sop_proposal.", "sop_run."),
    ),
    "messages": (_("Messages"), ("message.",)),
    "catalog": (_("Products and stock"), ("product.", "sku.", "stock.")),
    "comments": (_("Comments and notifications"), ("comment.", "notification.")),
    "staff": (_("Staff and settings"), ("user.", "team.", "api_token.", "business.", "import.")),
}


class ActivityFilterForm(forms.Form):
    person = forms.TypedChoiceField(label=_("Who"), required=False, coerce=int, empty_value=None)
    kind = forms.ChoiceField(
        label=_("What"),
        required=False,
        choices=[("", _("Everything")), *((key, label) for key, (label, _types) in KINDS.items())],
    )
    since = forms.DateField(
        label=pgettext_lazy("a range of days", "From"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        label=pgettext_lazy("a range of days", "To"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        people = [(user.pk, str(user)) for user in User.objects.order_by("first_name", "username")]
        field = self.fields["person"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [("", _("Anyone")), *people]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("since", "until"):
            day = data.get(name)
            if day is not None and not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
                self.add_error(name, _("Give a day between 1970 and 2100."))
        if data.get("since") and data.get("until") and data["until"] < data["since"]:
            self.add_error("until", _("The end is before the start."))
        return data

    def selection(self) -> dict[str, Any]:
        """The selector's arguments; days in the business's time zone, `To` inclusive."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        zone = timezone.get_current_timezone()

        def start(day: Any) -> datetime | None:
            return datetime.combine(day, time.min, tzinfo=zone) if day else None

        return {
            "actor_id": data.get("person"),
            "type_prefixes": KINDS[data["kind"]][1] if data.get("kind") else (),
            "since": start(data.get("since")),
            "until": start(data["until"] + timedelta(days=1)) if data.get("until") else None,
        }
