from __future__ import annotations

from procedo.core.paging import Page, keyset_page
from procedo.imports.models import ImportJob


def import_jobs_recent(*, limit: int = 20) -> list[ImportJob]:
    return list(
        ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:limit]
    )


def import_jobs_page(*, cursor: str | None = None, limit: int = 50) -> Page[ImportJob]:
    return keyset_page(
        ImportJob.objects.all(), order=["-created_at", "-id"], cursor=cursor, limit=limit
    )
