from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.work.models import Priority


class TaskCloseForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=2000)


class TaskCreateForm(forms.Form):
    """A task by hand. `assignee` is "user:<id>", "team:<id>" or "role:<code>"."""

    title = forms.CharField(label=_("What is to be done"), max_length=200)
    instructions = forms.CharField(
        label=_("Instructions"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    assignee = forms.ChoiceField(label=_("For"), choices=[])
    due_at = forms.DateTimeField(
        label=_("Due"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("In the store's time zone."),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial="normal")
    subject_type = forms.CharField(required=False, widget=forms.HiddenInput)
    subject_id = forms.IntegerField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, assignees: list[tuple[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = assignees

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        kind, _sep, value = data["assignee"].partition(":")
        return {
            "title": data["title"],
            "instructions": data["instructions"],
            "due_at": data["due_at"],
            "priority": data["priority"],
            "subject_type": data.get("subject_type") or "",
            "subject_id": data.get("subject_id"),
            "assignee_user_id": int(value) if kind == "user" else None,
            "assignee_team_id": int(value) if kind == "team" else None,
            "assignee_role": value if kind == "role" else "",
        }
