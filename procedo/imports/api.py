"""Imports over REST, as a program uses them: send the file, get a job at once, poll it.

The same services as the page: the file is stored and its header checked before the
answer (a file that is not the kind's CSV is a 422 naming `file`, and nothing is kept),
the worker reads the rows, and the job reports its progress and, at the end, the
rejected rows as a CSV at `report_url`. The same file sent again (its SHA-256) answers
200 with the job it made the first time instead of 202 with a new one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from django.http import FileResponse
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Query, Router
from ninja.files import UploadedFile
from ninja.responses import Status

from procedo.accounts.auth import ApiRequest, requires_api
from procedo.core.bounds import PAGE_LIMIT_DEFAULT, Cursor, PageLimit, PathId
from procedo.core.errors import NotFound
from procedo.core.schemas import Schema
from procedo.imports import selectors, services
from procedo.imports.models import ImportJob

router = Router(tags=["imports"])


class ImportIn(Schema):
    kind: Literal["orders", "customers"]
    source: str = Field(
        default="csv",
        max_length=40,
        description="Where the rows come from (external refs are `<source>:<id>`).",
    )
    currency: str = Field(default="", max_length=3, description="Empty: the business's.")
    time_zone: str = Field(default="", max_length=64, description="Empty: the business's.")


class ImportJobOut(Schema):
    id: int
    kind: str
    state: str = Field(description="queued, running, done, refused (the file) or failed.")
    file_name: str
    content_sha256: str = Field(description="The file's SHA-256: the same file imports once.")
    source: str
    currency: str
    time_zone: str
    rows_total: int
    rows_done: int
    percent: int = Field(description="Progress, 0 to 100.")
    rows_rejected: int
    created_count: int = Field(description="Orders or customers made.")
    existing_count: int = Field(description="Found already in the store.")
    lines_count: int = Field(description="Order lines made.")
    error: str = Field(description="Why the file was refused or the job failed.")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    url: str = Field(description="Where to poll this job.")
    report_url: str | None = Field(
        description="The rejected rows with their lines and reasons (CSV), once done."
    )


class ImportPageOut(Schema):
    items: list[ImportJobOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page.")


class ImportListQuery(Schema):
    cursor: Cursor | None = None
    limit: PageLimit = PAGE_LIMIT_DEFAULT


def _job_out(job: ImportJob) -> dict[str, Any]:
    has_report = bool(job.report_path) and Path(job.report_path).is_file()
    return {
        **{
            name: getattr(job, name)
            for name in ImportJobOut.model_fields
            if name not in ("url", "report_url")
        },
        "url": reverse("api:import_get", args=[job.pk]),
        "report_url": reverse("api:import_report", args=[job.pk]) if has_report else None,
    }


def _job(job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(field="job_id", message=_("No such import."))
    return job


@router.get("", response=ImportPageOut, auth=requires_api("imports.run"))
def import_list(request: ApiRequest, page: Query[ImportListQuery]) -> dict[str, Any]:
    """Imports, newest first."""
    jobs = selectors.import_jobs_page(cursor=page.cursor, limit=page.limit)
    return {"items": [_job_out(job) for job in jobs.items], "next_cursor": jobs.next_cursor}


@router.post("", response={200: ImportJobOut, 202: ImportJobOut}, auth=requires_api("imports.run"))
def import_create(
    request: ApiRequest, payload: Form[ImportIn], file: File[UploadedFile]
) -> Status[dict[str, Any]]:
    """Send a CSV file (UTF-8, may be gzip) as `multipart/form-data`; answers at once.

    202 with a new job the worker takes up, or 200 with the job this very file (by its
    SHA-256) made before. 422 naming `file` when it is not the kind's CSV, 413 over
    the upload limit; either way nothing is kept.
    """
    job = services.import_job_create(
        kind=payload.kind,
        file_name=file.name or "import.csv",
        content=file,
        source=payload.source,
        currency=payload.currency,
        time_zone=payload.time_zone,
        actor=request.auth,
    )
    return Status(200 if job.reused else 202, _job_out(job))


@router.get(
    "/{int:job_id}", response=ImportJobOut, auth=requires_api("imports.run"), url_name="import_get"
)
def import_get(request: ApiRequest, job_id: PathId) -> dict[str, Any]:
    """The job's state and progress: poll until `state` is done, refused or failed."""
    return _job_out(_job(job_id))


@router.get(
    "/{int:job_id}/report",
    auth=requires_api("imports.run"),
    url_name="import_report",
    openapi_extra={
        "responses": {
            200: {
                "description": "The rejected rows: line, reason and the row as it was.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            }
        }
    },
)
def import_report(request: ApiRequest, job_id: PathId) -> FileResponse:
    """The rejected-rows report of a finished import (404 naming `report` before that)."""
    job = _job(job_id)
    if not job.report_path or not Path(job.report_path).is_file():
        raise NotFound(field="report", message=_("This import has no report (yet)."))
    return FileResponse(
        Path(job.report_path).open("rb"),
        as_attachment=True,
        filename=f"rejected-rows-{job.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
