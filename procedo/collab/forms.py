from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.collab.services import BODY_MAX, REASON_MAX


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        max_length=BODY_MAX,
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": _("Write a comment; @name tells a colleague.")}
        ),
    )
    urgent = forms.BooleanField(label=_("Urgent"), required=False)
    urgent_reason = forms.CharField(
        label=_("Why it cannot wait"),
        max_length=REASON_MAX,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": _("why it cannot wait (needed if urgent)")}),
    )
    # A double click posts the same token: the service makes one comment of it.
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)


class NotificationSettingForm(forms.Form):
    notify_by_email = forms.BooleanField(
        label=_("Also send my notifications by email"), required=False
    )
