from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.messaging.models import Channel, MessageKind, MessageState
from procedo.messaging.selectors import MessageFilters


def _blank(choices: list[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [("", _("any")), *choices]


class MessageFilterForm(forms.Form):
    customer = forms.IntegerField(label=_("customer #"), required=False, min_value=1)
    state = forms.ChoiceField(
        label=_("state"), required=False, choices=_blank(MessageState.choices)
    )
    channel = forms.ChoiceField(label=_("channel"), required=False, choices=_blank(Channel.choices))
    kind = forms.ChoiceField(label=_("kind"), required=False, choices=_blank(MessageKind.choices))
    source = forms.CharField(label=_("source"), required=False, max_length=80)
    sop = forms.TypedChoiceField(label=_("SOP"), required=False, coerce=int, empty_value=None)
    campaign = forms.CharField(label=_("campaign"), required=False, max_length=60)
    decision = forms.BooleanField(label=_("needs a decision"), required=False)
    direction = forms.ChoiceField(
        label=_("direction"),
        required=False,
        choices=[
            ("", _("sent to customers")),
            ("staff", _("staff notifications")),
            ("inbound", _("received")),
        ],
    )

    def __init__(
        self, *args: Any, sops: list[tuple[int, str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        sop_field = self.fields["sop"]
        assert isinstance(sop_field, forms.TypedChoiceField)
        sop_field.choices = _blank([(str(pk), name) for pk, name in sops or []])

    def filters(self) -> MessageFilters:
        """The selector's filters; call after is_valid()."""
        data = self.cleaned_data
        return MessageFilters(
            customer_id=data["customer"],
            state=data["state"],
            channel=data["channel"],
            kind=data["kind"],
            source=data["source"].strip(),
            sop_id=data["sop"],
            campaign=data["campaign"].strip(),
            needs_decision=data["decision"],
            staff=data["direction"] == "staff",
        )


class TemplateForm(forms.Form):
    key = forms.SlugField(label=_("key"), max_length=80)
    name = forms.CharField(label=_("name"), max_length=200)
    channel = forms.ChoiceField(label=_("channel"), choices=Channel.choices)
    kind = forms.ChoiceField(label=_("kind"), choices=MessageKind.choices)
    subject = forms.CharField(label=_("subject"), max_length=300, required=False)
    body_text = forms.CharField(label=_("text"), widget=forms.Textarea(attrs={"rows": 10}))
    body_html = forms.CharField(
        label=_("HTML (optional)"), required=False, widget=forms.Textarea(attrs={"rows": 8})
    )
    preview_customer = forms.IntegerField(label=_("preview for customer #"), required=False)
    preview_order = forms.IntegerField(label=_("and order #id"), required=False)


class MessageDecisionForm(forms.Form):
    """Mark as sent / send again, for a message in `unknown`: a double click is one decision."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
