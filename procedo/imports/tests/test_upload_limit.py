"""An upload past PROCEDO_MAX_UPLOAD_MB is answered 413, the limit named; nothing is kept."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client, override_settings
from django.urls import reverse

from procedo.imports.models import ImportJob

pytestmark = pytest.mark.django_db

MB = 1024 * 1024
MESSAGE = "The file is larger than 1 MB, the upload limit (PROCEDO_MAX_UPLOAD_MB)."


def _file(size: int) -> io.BytesIO:
    header = b"order_number,sku,quantity,unit_price,placed_at\n"
    upload = io.BytesIO(header + b"1,A,1,1,2026-01-01\n" * ((size - len(header)) // 19 + 1))
    upload.name = "orders.csv"
    return upload


def _stored() -> list[Path]:
    folder = Path(settings.MEDIA_ROOT) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def _post(client: Client, size: int) -> object:
    return client.post(
        reverse("imports:list"),
        {"kind": "orders", "file": _file(size), "source": "shop", "currency": "UAH"},
    )


@override_settings(PROCEDO_MAX_UPLOAD_BYTES=MB)
def test_a_body_declared_too_large_is_refused_unread_on_the_page(owner_client: Client) -> None:
    before = _stored()
    response = _post(owner_client, 2 * MB)
    assert response.status_code == 413  # type: ignore[attr-defined]
    page = response.content.decode()  # type: ignore[attr-defined]
    assert MESSAGE in page and "<form" in page and "Up to 1 MB; uncompressed" in page
    assert not ImportJob.objects.exists() and _stored() == before


@override_settings(PROCEDO_MAX_UPLOAD_BYTES=MB)
def test_a_file_that_passes_the_limit_while_streaming_is_dropped(owner_client: Client) -> None:
    # Declared within the allowance for the form around the file, so only the
    # count of the bytes as they arrive can catch it.
    before = _stored()
    response = _post(owner_client, MB + 16 * 1024)
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert MESSAGE in response.content.decode()  # type: ignore[attr-defined]
    assert not ImportJob.objects.exists() and _stored() == before


@override_settings(PROCEDO_MAX_UPLOAD_BYTES=MB, LANGUAGE_CODE="uk")
def test_the_refusal_is_translated(owner_client: Client) -> None:
    response = _post(owner_client, 2 * MB)
    assert response.status_code == 413  # type: ignore[attr-defined]
    assert "більший за 1 МБ" in response.content.decode()  # type: ignore[attr-defined]


@override_settings(PROCEDO_MAX_UPLOAD_BYTES=MB)
def test_a_file_within_the_limit_is_imported(owner_client: Client) -> None:
    response = _post(owner_client, MB // 2)
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert ImportJob.objects.count() == 1


@override_settings(PROCEDO_MAX_UPLOAD_BYTES=MB)
def test_the_api_answers_413_in_json_naming_the_field() -> None:
    body = json.dumps({"note": "x" * (2 * MB)})
    response = Client().post("/api/customers", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json() == {"detail": MESSAGE, "field": "body", "code": "too_large"}
