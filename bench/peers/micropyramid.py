"""B8 worker for MicroPyramid's Django-CRM (PyPI `django-crm`), run with its own venv's python.

Its web side is a REST API (django-rest-framework). Loads the bench's
customers as contacts and its orders as opportunities linked to them, with
bulk inserts, then times its contacts API (`GET /api/contacts/`, limit/offset
paging, the `email` and `name` filters) through DRF's test client, and
adding contacts the way `POST /api/contacts/` does: its CreateContactSerializer
and BillingAddressSerializer, validated and saved, then `created_by` and the
(empty) assignment. The view's last step, a Celery task mailing the assigned
users, is left out: it needs a broker, and nobody is assigned.
"""

from __future__ import annotations

import os
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import harness

NAME = "MicroPyramid"
BATCH = 5_000


def main() -> None:
    args = harness.arguments()
    os.environ["B8_DATABASE_URL"] = args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "micropyramid_settings"
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    harness.progress(NAME, f"migrated in {time.perf_counter() - started:.0f} s")
    from common.models import User

    user = User.objects.create(
        username="admin", email="admin@example.com", role="ADMIN", is_superuser=True
    )
    started = time.perf_counter()
    _load(args.data, user)
    load_seconds = time.perf_counter() - started
    harness.progress(NAME, f"loaded in {load_seconds:.0f} s")
    result = _measure(args.data, user)
    result["load_seconds"] = load_seconds
    harness.emit(result)


def _load(data: Path, user) -> None:
    from contacts.models import Contact
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from opportunity.models import Opportunity

    # created_on is auto_now_add: bulk_create would stamp every row with the load's time.
    stamps = [Contact._meta.get_field("created_on"), Opportunity._meta.get_field("created_on")]
    for field in stamps:
        field.auto_now_add = False
    # Ids given here: Django 3.2's bulk_create returns none on SQLite. The database is new.
    customers = harness.customers(data)
    with transaction.atomic():
        for start in range(0, len(customers), BATCH):
            Contact.objects.bulk_create(
                [
                    Contact(
                        id=start + offset + 1,
                        first_name=row.first_name,
                        last_name=row.last_name,
                        email=row.email,
                        phone=row.phone,
                        created_by=user,
                        created_on=datetime.fromisoformat(row.created_at),
                        is_active=True,
                    )
                    for offset, row in enumerate(customers[start : start + BATCH])
                ]
            )
    orders = harness.orders(data)
    link = Opportunity.contacts.through
    with transaction.atomic():
        for start in range(0, len(orders), BATCH):
            chunk = orders[start : start + BATCH]
            Opportunity.objects.bulk_create(
                [
                    Opportunity(
                        id=start + offset + 1,
                        name=order.number,
                        stage="CLOSED WON",
                        currency="UAH",
                        amount=Decimal(order.total),
                        created_by=user,
                        created_on=datetime.fromisoformat(order.placed_at),
                        is_active=True,
                    )
                    for offset, order in enumerate(chunk)
                ]
            )
            link.objects.bulk_create(
                [
                    link(opportunity_id=start + offset + 1, contact_id=order.customer + 1)
                    for offset, order in enumerate(chunk)
                ]
            )
    for field in stamps:
        field.auto_now_add = True
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for statement in connection.ops.sequence_reset_sql(no_style(), [Contact, Opportunity]):
                cursor.execute(statement)
            cursor.execute("ANALYZE")


def _measure(data: Path, user) -> dict:
    import django
    from common.serializer import BillingAddressSerializer
    from contacts.models import Contact
    from contacts.serializer import CreateContactSerializer
    from rest_framework.test import APIClient, APIRequestFactory

    probes = harness.probes(data)
    client = APIClient()
    client.force_authenticate(user)  # instead of its JWT header: no token decoding timed
    url = "/api/contacts/"

    def listing(params: dict[str, str], expect: int) -> float:
        query = {**params, "limit": str(probes.page_size)}
        response = client.get(url, query)
        rows = len(response.json()["contact_obj_list"]) if response.status_code == 200 else -1
        if rows != expect:
            raise SystemExit(f"{NAME}: {url} {query} answered {response.status_code}, {rows} rows")
        return harness.timed(lambda: client.get(url, query))

    reads = {
        "first page": listing({}, probes.page_size),
        "deep page": listing({"offset": str(probes.deep_offset)}, probes.page_size),
        "search email": listing({"email": probes.email}, 1),
        "search name prefix": listing({"name": probes.name_prefix}, probes.page_size),
    }
    harness.progress(NAME, "reads timed")

    factory = APIRequestFactory()

    def create(row: harness.Customer) -> object:
        request = factory.post(url)
        request.user = user
        params = {
            "first_name": row.first_name,
            "last_name": row.last_name,
            "email": row.email,
            "phone": row.phone,
            "country": row.country,
        }
        contact_serializer = CreateContactSerializer(data=params, request_obj=request, contact=True)
        address_serializer = BillingAddressSerializer(data=params)
        if not (contact_serializer.is_valid() and address_serializer.is_valid()):
            errors = {**contact_serializer.errors, **address_serializer.errors}
            raise SystemExit(f"{NAME}: the serializers refused {row}: {errors}")
        address = address_serializer.save()
        contact = contact_serializer.save()
        contact.address = address
        contact.created_by = user
        contact.save()
        list(contact.assigned_to.all().values_list("id", flat=True))  # the view's recipients
        return contact

    rate = harness.create_rate(create, harness.batches(data))
    harness.progress(NAME, "creates timed")
    return {
        "name": NAME,
        "package": "django-crm",
        "version": _version(),
        "django": django.get_version(),
        "reads_ms": reads,
        "creates_per_s": rate,
        "contacts": Contact.objects.count(),
    }


def _version() -> str:
    from importlib.metadata import version

    return version("django-crm")


if __name__ == "__main__":
    main()
