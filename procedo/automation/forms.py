"""The forms of running an SOP by hand: start one on a subject, cancel a run."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.core.forms import FormTokenMixin, choices_set


class RunStartForm(FormTokenMixin):
    sop_id = forms.TypedChoiceField(label=_("SOP"), coerce=int, choices=[])
    subject_type = forms.CharField(widget=forms.HiddenInput)
    subject_id = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args: Any, sops: list[tuple[int, str]], **kw: Any) -> None:
        super().__init__(*args, **kw)
        choices_set(self, "sop_id", sops)


class RunCancelForm(forms.Form):
    reason = forms.CharField(label=_("Why"), required=False, max_length=300)
