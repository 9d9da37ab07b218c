from __future__ import annotations

from procedo.imports.models import ImportJob


def import_jobs_recent(*, limit: int = 20) -> list[ImportJob]:
    return list(
        ImportJob.objects.select_related("created_by").order_by("-created_at", "-id")[:limit]
    )
