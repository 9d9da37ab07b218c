"""B8 worker for DjangoCRM (PyPI `django-crm-admin`), run with the python of its own venv.

Sets DjangoCRM up as its `setupdata` command does (migrate, the fixtures, a
superuser), loads the bench's customers as contacts of one company and its
orders as deals, with bulk inserts, then times what a user of DjangoCRM does:
the contact list of its CRM site (`/en/123/crm/contact/`, the admin
changelist) through Django's test Client, its search box (`?q=`), and adding
contacts through the contact admin's own form, `save_model`, `save_related` and
history entry: the add page's POST without the HTTP round trip and the redirect.
"""

from __future__ import annotations

import os
import re
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import harness

NAME = "DjangoCRM"
FIXTURES = [  # what `manage.py setupdata` loads
    "country.json",
    "currency.json",
    "groups.json",
    "resolution.json",
    "department.json",
    "deal_stage.json",
    "projectstage.json",
    "taskstage.json",
    "client_type.json",
    "closing_reason.json",
    "industry.json",
    "lead_source.json",
    "publicemaildomain.json",
    "help_en.json",
    "sites.json",
    "reminders.json",
    "massmailsettings.json",
]
BATCH = 5_000
ROW = re.compile(rb'<tr[^>]*>\s*<td class="action-checkbox">')


def main() -> None:
    args = harness.arguments()
    os.environ["B8_DATABASE_URL"] = args.db
    os.environ["DJANGO_SETTINGS_MODULE"] = "djangocrm_settings"
    import django

    django.setup()
    from django.core.management import call_command

    started = time.perf_counter()
    call_command("migrate", interactive=False, verbosity=0)
    call_command("loaddata", *FIXTURES, verbosity=0)
    harness.progress(NAME, f"migrated and set up in {time.perf_counter() - started:.0f} s")
    user, company, country = _setup()
    started = time.perf_counter()
    _load(args.data, user, company, country)
    load_seconds = time.perf_counter() - started
    harness.progress(NAME, f"loaded in {load_seconds:.0f} s")
    emit = _measure(args.data, user, company, country)
    emit["load_seconds"] = load_seconds
    harness.emit(emit)


def _setup():
    from crm.models import Company, Country
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_superuser("IamSUPER", "super@example.com", "x")
    department = Group.objects.get(name="Global sales")
    company = Company.objects.create(
        full_name="Online store customers",
        email="shop@example.com",
        owner=user,
        department=department,
    )
    return user, company, Country.objects.get(name="Ukraine")


def _load(data: Path, user, company, country) -> None:
    from crm.models import Contact, Deal, Stage
    from django.db import connection, transaction

    customers = harness.customers(data)
    ids: list[int] = []
    with transaction.atomic():
        for start in range(0, len(customers), BATCH):
            made = Contact.objects.bulk_create(
                [
                    Contact(
                        first_name=row.first_name,
                        last_name=row.last_name,
                        email=row.email,
                        phone=row.phone,
                        company=company,
                        country=country,
                        owner=user,
                        department_id=company.department_id,
                        creation_date=datetime.fromisoformat(row.created_at),
                    )
                    for row in customers[start : start + BATCH]
                ]
            )
            ids.extend(contact.pk for contact in made)
    stage = Stage.objects.filter(success_stage=True).first()
    orders = harness.orders(data)
    with transaction.atomic():
        for start in range(0, len(orders), BATCH):
            Deal.objects.bulk_create(
                [
                    Deal(
                        name=f"Order {order.number}",
                        next_step="",
                        next_step_date=datetime.fromisoformat(order.placed_at).date(),
                        ticket=order.number,
                        stage=stage,
                        amount=Decimal(order.total),
                        contact_id=ids[order.customer],
                        company=company,
                        owner=user,
                        department_id=company.department_id,
                        creation_date=datetime.fromisoformat(order.placed_at),
                        active=False,
                    )
                    for order in orders[start : start + BATCH]
                ]
            )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _measure(data: Path, user, company, country) -> dict:
    from crm.models import Contact
    from crm.site.crmadminsite import crm_site
    from django.test import Client, RequestFactory
    from django.urls import resolve

    probes = harness.probes(data)
    admin = crm_site._registry[Contact]
    # The admin shows 100 rows a page; Procedo's list shows 50: compare equal pages.
    admin.list_per_page = probes.page_size
    client = Client()
    client.force_login(user)
    url = "/en/123/crm/contact/"

    def page(params: dict[str, str], expect: int | None = None) -> float:
        response = client.get(url, params)
        rows = len(ROW.findall(response.content))
        if response.status_code != 200 or rows == 0 or (expect is not None and rows != expect):
            raise SystemExit(f"{NAME}: {url} {params} answered {response.status_code}, {rows} rows")
        return harness.timed(lambda: client.get(url, params))

    deep_page = probes.deep_offset // probes.page_size + 1  # the admin's ?p= counts from 1
    reads = {
        "first page": page({}, probes.page_size),
        "deep page": page({"p": str(deep_page)}, probes.page_size),
        "search email": page({"q": probes.email}, 1),
        "search name prefix": page({"q": probes.name_prefix}, probes.page_size),
    }
    harness.progress(NAME, "reads timed")

    factory = RequestFactory()
    add_url = "/en/123/crm/contact/add/"
    add_match = resolve(add_url)

    def create(row: harness.Customer) -> object:
        request = factory.post(add_url)
        request.user = user
        request.resolver_match = add_match
        _as_middleware_does(request)
        form_class = admin.get_form(request, None, change=False)
        form = form_class(
            data={
                "first_name": row.first_name,
                "last_name": row.last_name,
                "email": row.email,
                "phone": row.phone,
                "company": str(company.pk),
                "country": str(country.pk),
                "sex": "M",
                "massmail": "on",
            },
            files={},
        )
        if not form.is_valid():
            raise SystemExit(f"{NAME}: the contact form refused {row}: {form.errors.as_text()}")
        contact = admin.save_form(request, form, change=False)
        admin.save_model(request, contact, form, change=False)
        admin.save_related(request, form, formsets=[], change=False)
        message = admin.construct_change_message(request, form, [], add=True)
        admin.log_addition(request, contact, message)
        return contact

    rate = harness.create_rate(create, harness.batches(data))
    harness.progress(NAME, "creates timed")
    import django

    return {
        "name": NAME,
        "package": "django-crm-admin",
        "version": _version(),
        "django": django.get_version(),
        "reads_ms": reads,
        "creates_per_s": rate,
        "contacts": Contact.objects.count(),
    }


def _as_middleware_does(request) -> None:
    # common.utils.usermiddleware.UserMiddleware sets these on every request.
    request.user.is_superoperator = False
    request.user.is_operator = False
    request.user.is_chief = False
    request.user.is_manager = False
    request.user.is_accountant = False
    request.user.department_id = None
    request.session = {}
    request._messages = []


def _version() -> str:
    from importlib.metadata import version

    return version("django-crm-admin")


if __name__ == "__main__":
    main()
