"""The import API as a program uses it: the real retail file's first 20,000 lines sent over
HTTP, a job at once, its progress polled, the rejected rows read by URL; the same file
again is the same job; bad input is refused by name and nothing is imported."""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from procedo.accounts import services as account_services
from procedo.accounts.models import User
from procedo.business.services import business_update
from procedo.imports.models import ImportJob
from procedo.imports.tests.test_retail_history import RETAIL
from procedo.orders.models import Order

pytestmark = pytest.mark.django_db

LINES = 20_000


def _bearer(user: User) -> dict[str, Any]:
    issued = account_services.api_token_issue(
        user=user, name="shop script", expires_in_days=None, actor=user
    )
    return {"HTTP_AUTHORIZATION": f"Bearer {issued.plaintext}"}


def _first_lines(path: Path, count: int) -> bytes:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        return "".join(handle.readline() for _ in range(count)).encode("utf-8")


def _send(client: Client, auth: dict[str, Any], content: bytes, **fields: str) -> Any:
    upload = io.BytesIO(content)
    upload.name = fields.pop("name", "retail-head.csv")
    data = {"kind": "orders", "source": "retail", **fields, "file": upload}
    return client.post("/api/imports", data, **auth)


@pytest.mark.skipif(not RETAIL.exists(), reason="../shared/data/retail is not beside the project")
def test_the_retail_file_through_the_api_imports_once_and_reports_its_rejected_rows(
    owner: User, django_capture_on_commit_callbacks: Any
) -> None:
    business_update(name="Gift shop", time_zone="Europe/London", currency="GBP", actor_id=None)
    client, auth = Client(), _bearer(owner)
    content = _first_lines(RETAIL, LINES)

    with django_capture_on_commit_callbacks(execute=False) as wake_ups:
        started = _send(client, auth, content, currency="GBP", time_zone="Europe/London")
    assert started.status_code == 202, started.content
    job = started.json()
    assert job["state"] == "queued" and job["percent"] == 0 and job["report_url"] is None
    assert job["url"] == f"/api/imports/{job['id']}"
    assert not Order.objects.exists()  # answered before a row was read

    for wake_up in wake_ups:  # the worker, as Huey would run it after the commit
        wake_up()
    polled = client.get(job["url"], **auth).json()
    assert polled["state"] == "done" and polled["percent"] == 100
    assert polled["rows_total"] == LINES - 1  # the header is not a row
    assert polled["created_count"] == Order.objects.count() > 500
    assert polled["rows_rejected"] > 0

    report = client.get(polled["report_url"], **auth)
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.getvalue().decode("utf-8-sig"))))
    assert len(rows) - 1 == polled["rows_rejected"]

    # The same bytes again: the same job, answered 200, nothing read or written again.
    orders = Order.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        again = _send(client, auth, content, name="renamed.csv")
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    assert ImportJob.objects.count() == 1 and Order.objects.count() == orders


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "UTF-8"),
        (b"name,colour\nOlena,red\n", "Unknown columns"),
        (b"", "empty"),
    ],
)
def test_a_file_that_is_not_the_kinds_csv_is_refused_naming_the_file(
    owner: User, content: bytes, message: str
) -> None:
    client, auth = Client(), _bearer(owner)
    refused = _send(client, auth, content, name="picture.png")
    assert refused.status_code == 422
    body = refused.json()
    assert body["field"] == "file" and message in body["detail"]
    assert not ImportJob.objects.exists() and not Order.objects.exists()


def test_a_body_that_is_not_multipart_is_refused_in_the_one_error_shape(owner: User) -> None:
    refused = Client().post(
        "/api/imports",
        b"order_number,sku\n1,A\n",
        content_type="multipart/form-data",  # no boundary: the body cannot be split
        **_bearer(owner),
    )
    assert refused.status_code == 400
    assert refused.json()["field"] == "body" and "multipart" in refused.json()["detail"]
    assert not ImportJob.objects.exists()


def test_a_role_without_the_import_permission_is_refused_before_the_file_is_read(
    make_user: Callable[..., User],
) -> None:
    client, auth = Client(), _bearer(make_user("operator"))
    refused = _send(client, auth, b"order_number,sku,quantity,unit_price,placed_at\n")
    assert refused.status_code == 403
    assert refused.json()["field"] == "permission" and "imports.run" in refused.json()["detail"]
    assert client.get("/api/imports", **auth).status_code == 403
    assert not ImportJob.objects.exists()


def test_a_page_over_the_maximum_is_refused_naming_limit(owner: User) -> None:
    client, auth = Client(), _bearer(owner)
    refused = client.get("/api/imports", {"limit": 201}, **auth)
    assert refused.status_code == 422 and refused.json()["field"] == "limit"
    assert client.get("/api/imports", {"limit": 200}, **auth).json() == {
        "items": [],
        "next_cursor": None,
    }
