"""Security headers on every response: the Content-Security-Policy, and no-store on secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from procedo.accounts.models import User
from procedo.automation.tests.helpers import customer, order
from procedo.messaging.services.queueing import message_queue

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2]


def _policy(response: object) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]  # type: ignore[index]
    return {
        name: values
        for name, *values in (part.split() for part in header.split(";") if part.strip())
    }


STRICT = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "object-src": ["'none'"],
    "base-uri": ["'none'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}


def test_every_page_carries_the_strict_policy(owner: User, owner_client: Client) -> None:
    buyer = customer(email="olena@example.com")
    placed = order(customer_id=buyer.pk)
    paths = [
        reverse("home:dashboard"),
        reverse("customers:list"),
        reverse("customers:card", args=[buyer.pk]),
        reverse("orders:list"),
        reverse("orders:detail", args=[placed.pk]),
        reverse("sops:list"),
        reverse("sops:library"),
        reverse("work:mine"),
        reverse("work:team"),
        reverse("messaging:list"),
        reverse("home:business"),
        reverse("accounts:profile"),
        reverse("accounts:users"),
        reverse("home:activity"),
        "/api/docs",
    ]
    for path in paths:
        response = owner_client.get(path)
        assert response.status_code == 200, path
        assert _policy(response) == STRICT, path

    anonymous = Client()
    for response in (
        anonymous.get(reverse("accounts:login")),
        anonymous.get("/no/such/page/"),
        anonymous.get("/api/accounts/me"),
        owner_client.get("/customers/999999/"),
    ):
        assert _policy(response) == STRICT, response.status_code


def test_pages_showing_email_html_allow_its_inline_styles_and_nothing_more(
    owner_client: Client,
) -> None:
    message = message_queue(
        channel="email",
        recipient="olena@example.com",
        body="Дякуємо!",
        body_html='<p style="color: #2f5bea">Дякуємо!</p>',
        idempotency_key="test:headers-email",
    )
    for path in (
        reverse("messaging:detail", args=[message.pk]),
        reverse("messaging:template-new"),
    ):
        policy = _policy(owner_client.get(path))
        assert policy["style-src"] == ["'self'", "'unsafe-inline'"], path
        assert policy["img-src"] == ["'self'", "data:", "https:"], path
        assert policy["script-src"] == ["'self'"], path


INLINE = [
    ("a style attribute", re.compile(r"\sstyle\s*=", re.I)),
    ("a <style> element", re.compile(r"<style\b", re.I)),
    ("an inline <script>", re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)),
    ("an event handler attribute", re.compile(r"\son[a-z]+\s*=", re.I)),
    ("an hx-on attribute", re.compile(r"\shx-on", re.I)),
    ("a javascript: URL", re.compile(r"javascript:", re.I)),
]


def test_no_template_has_what_the_policy_would_refuse() -> None:
    found = []
    for template in sorted(TEMPLATES.glob("**/templates/**/*.html")):
        text = template.read_text()
        for what, pattern in INLINE:
            for match in pattern.finditer(text):
                line = text.count("\n", 0, match.start()) + 1
                found.append(f"{template.relative_to(TEMPLATES)}:{line}: {what}")
    assert found == []


def test_a_new_token_is_never_stored_by_a_cache(owner_client: Client) -> None:
    shown = owner_client.post(reverse("accounts:profile"), {"name": "Zapier"})
    assert b"pro_" in shown.content
    assert "no-store" in shown["Cache-Control"]
    assert "no-store" in owner_client.get(reverse("accounts:profile"))["Cache-Control"]

    issued = owner_client.post(
        "/api/accounts/tokens", {"name": "CI"}, content_type="application/json"
    )
    assert issued.status_code == 201 and issued.json()["token"].startswith("pro_")
    assert "no-store" in issued["Cache-Control"]
