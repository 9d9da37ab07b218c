"""Form pieces every area shares."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms


class FormTokenMixin(forms.Form):
    """A hidden UUID per rendered form: the idempotency key of its submit (a double click)."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def choices_set(form: forms.Form, name: str, choices: Any) -> None:
    """Fill a choice field's options at run time (people, teams, SOPs live in the database)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices
