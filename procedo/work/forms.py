from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class TaskCloseForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)
    checked = forms.TypedMultipleChoiceField(
        label=_("Done"), coerce=int, required=False, choices=[], widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: object, items: int = 0, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["checked"].choices = [(i, str(i)) for i in range(items)]  # type: ignore[attr-defined]
