"""Form pieces every area shares."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms

from procedo.core.errors import DomainError


class FormTokenMixin(forms.Form):
    """A hidden UUID per rendered form: the idempotency key of its submit (a double click)."""

    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


def choices_set(form: forms.Form, name: str, choices: Any) -> None:
    """Fill a choice field's options at run time (people, teams, SOPs live in the database)."""
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def refusal_add(form: forms.Form, field: str, message: str) -> None:
    """Show a service's refusal on a form: next to its field, or above the form.

    An unbound form (a button with no inputs) gets an empty error list to add to.
    """
    if not form.is_bound:
        form.full_clean()
        form.cleaned_data = {}
    form.add_error(field if field in form.fields else None, message)


def filters_valid(form: forms.Form) -> forms.Form:
    """A list's filter form for an export: its first error is a refusal naming the filter.

    A page shows a bad filter next to its field; an export has no page to show it on,
    and must not write a file with the filter left out.
    """
    if not form.is_valid():
        name, errors = next(iter(form.errors.items()))
        raise DomainError(field=name, message=f"{name}: {errors[0]}")
    return form
