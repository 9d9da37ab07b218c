"""Forms for feedback on a step, proposals, and their triage (services check the rules)."""

from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.sops.models import FeedbackKind, FeedbackState


class FeedbackForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    kind = forms.ChoiceField(
        label=_("What is it?"), choices=FeedbackKind.choices, widget=forms.RadioSelect
    )
    text = forms.CharField(
        label=_("What happened"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Where it went wrong, how long it took, the faster way you found."),
    )


class ProposalForm(forms.Form):
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
    text = forms.CharField(
        label=_("What to change, and why"),
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("The SOP's owner can turn it into a new revision that credits you."),
    )


class ResolveForm(forms.Form):
    state = forms.ChoiceField(
        choices=[
            (FeedbackState.ADDRESSED, _("Addressed")),
            (FeedbackState.DISMISSED, _("Dismissed")),
        ]
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=4000)


class DeclineForm(forms.Form):
    reason = forms.CharField(label=_("Why not"), max_length=4000)
