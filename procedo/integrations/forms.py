from __future__ import annotations

import uuid

from django import forms
from django.utils.translation import gettext_lazy as _

from procedo.integrations.models import DeliveryState, Platform
from procedo.integrations.services._common import SECRET_MAX


class ConnectionForm(forms.Form):
    platform = forms.ChoiceField(label=_("Platform"), choices=Platform.choices)
    name = forms.CharField(label=_("Name"), max_length=100)
    account = forms.CharField(
        label=_("Shop domain or account"),
        max_length=200,
        required=False,
        help_text=_("For example my-shop.myshopify.com, or LiqPay's public key."),
    )
    secret = forms.CharField(
        label=_("Secret or API key"),
        max_length=SECRET_MAX,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "The webhook signing secret (Shopify, WooCommerce, Stripe's whsec_…, EasyPost) "
            "or LiqPay's private key; for Nova Poshta, its API key. Stored encrypted; it is "
            "never shown again."
        ),
    )
    api_key = forms.CharField(
        label=_("API key for catching up (optional)"),
        max_length=SECRET_MAX,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_(
            "Stripe's secret key or a Shopify Admin API token: once an hour Procedo fetches "
            "what the webhooks missed."
        ),
    )


class ConnectionEditForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=100)
    account = forms.CharField(label=_("Shop domain or account"), max_length=200, required=False)
    secret = forms.CharField(
        label=_("New secret"),
        max_length=SECRET_MAX,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the one stored."),
    )
    api_key = forms.CharField(
        label=_("New API key for catching up"),
        max_length=SECRET_MAX,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=_("Leave empty to keep the one stored."),
    )
    active = forms.BooleanField(label=_("Takes deliveries"), required=False)


class DeliveryFilter(forms.Form):
    state = forms.ChoiceField(
        label=_("State"), choices=[("", _("All")), *DeliveryState.choices], required=False
    )
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class ConnectionTestForm(forms.Form):
    # A double click sends the same token: the test is sent once (testing.connection_test_send).
    form_token = forms.UUIDField(widget=forms.HiddenInput, initial=uuid.uuid4)
