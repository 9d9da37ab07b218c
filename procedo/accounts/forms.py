from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.accounts.models import User
from procedo.accounts.roles import Role


class TokenForm(forms.Form):
    name = forms.CharField(label=_("What will use it"), max_length=100)
    expires_in_days = forms.IntegerField(
        label=_("Expires after (days)"),
        min_value=1,
        max_value=3650,
        required=False,
        help_text=_("Leave empty for a token that does not expire."),
    )


class UserCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(label=_("Email"), required=False)
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class UserRoleForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)


class TeamForm(forms.Form):
    name = forms.CharField(label=_("Team name"), max_length=100)
    lead = forms.ModelChoiceField(
        label=_("Team lead"), queryset=User.objects.filter(is_active=True), required=False
    )
