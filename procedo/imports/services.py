"""Import jobs: the file is stored first, then read by the worker (web upload) or the CLI."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
import zoneinfo
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from procedo.accounts.actors import Actor, actor_person
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError, NotFound, TooLarge
from procedo.core.uploads import upload_limit, upload_limit_message
from procedo.events.services.recording import event_record
from procedo.imports import customers as customer_import
from procedo.imports import orders as order_import
from procedo.imports.csvfiles import RejectedReport, read_csv
from procedo.imports.customers import CUSTOMER_COLUMNS
from procedo.imports.models import ImportJob, ImportKind, ImportState
from procedo.imports.orders import ORDER_COLUMNS

logger = logging.getLogger(__name__)

# A running job whose heartbeat is older than this has lost its worker.
STALE_AFTER = timedelta(minutes=5)
_SOURCE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _imports_dir() -> Path:
    path = Path(settings.MEDIA_ROOT) / "imports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _clean(*, kind: str, source: str, currency: str, time_zone: str) -> tuple[str, str, str]:
    if kind not in ImportKind.values:
        raise DomainError(field="kind", message=_("Import orders or customers."))
    source = source.strip().lower()
    if not _SOURCE.match(source):
        raise DomainError(
            field="source",
            message=_(
                "A source is 1-40 latin letters, digits, - or _ (e.g. shopify, retail-2011)."
            ),
        )
    currency = (currency or business_get().currency).strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise DomainError(field="currency", message=_("A currency is a three-letter ISO code."))
    time_zone = time_zone.strip() or business_get().time_zone
    if time_zone not in zoneinfo.available_timezones():
        raise DomainError(
            field="time_zone", message=_("%(tz)s is not a time zone.") % {"tz": time_zone}
        )
    return source, currency, time_zone


@transaction.atomic
def import_job_create(
    *,
    kind: str,
    file_name: str,
    content: IO[bytes],
    source: str,
    currency: str = "",
    time_zone: str = "",
    actor: Actor = None,
    in_worker: bool = True,
) -> ImportJob:
    """Store the file under var/media/imports and check its header; no row is read yet.

    The same file (its SHA-256) of the same kind imports once: sent again, by the page,
    the API or the CLI, it answers with the job it made the first time (`reused` set)
    and stores nothing, unless that job failed. A file whose header is not one of the
    kind's CSV headers (not a CSV, another kind's file) is refused here, naming `file`.
    `in_worker`: wake the worker after commit (web uploads); the CLI runs the
    job itself. Either way the periodic tick takes up a job nobody ran.
    """
    source, currency, time_zone = _clean(
        kind=kind, source=source, currency=currency, time_zone=time_zone
    )
    safe_name = re.sub(r"[^\w.\-]+", "_", Path(file_name).name)[-120:] or "import.csv"
    stored = _imports_dir() / f"{uuid.uuid4().hex}-{safe_name}"
    digest = _store(content, stored)
    try:
        _header_check(kind, stored)
        same = _same_file(kind, digest)
        if same is not None:
            stored.unlink(missing_ok=True)
            return same
        try:
            with transaction.atomic():
                job = ImportJob.objects.create(
                    kind=kind,
                    file_name=Path(file_name).name[:255],
                    stored_path=str(stored),
                    content_sha256=digest,
                    source=source,
                    currency=currency,
                    time_zone=time_zone,
                    created_by=actor_person(actor),
                )
        except IntegrityError:  # the same file, sent twice at once: the other one won
            same = _same_file(kind, digest)
            if same is None:
                raise
            stored.unlink(missing_ok=True)
            return same
    except BaseException:
        stored.unlink(missing_ok=True)
        raise
    event_record(
        event_type="import.queued",
        subject=job,
        actor=actor,
        payload={"kind": kind, "file": job.file_name, "source": source},
    )
    if in_worker:
        from procedo.imports.tasks import import_run

        transaction.on_commit(lambda: import_run(job.pk))
    return job


def _store(content: IO[bytes], stored: Path) -> str:
    """Copy the file a megabyte at a time; past the upload limit, refuse it and keep nothing.

    Returns the SHA-256 of what was stored.
    """
    limit, size, digest = upload_limit(), 0, hashlib.sha256()
    try:
        with stored.open("wb") as target:
            while chunk := content.read(1024 * 1024):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(field="file", message=upload_limit_message())
                digest.update(chunk)
                target.write(chunk)
    except BaseException:
        stored.unlink(missing_ok=True)
        raise
    return digest.hexdigest()


def _header_check(kind: str, stored: Path) -> None:
    """Refuse now, naming `file`, what the worker would refuse at its first line."""
    columns = ORDER_COLUMNS if kind == ImportKind.ORDERS else CUSTOMER_COLUMNS
    with read_csv(stored, columns):
        pass


def _same_file(kind: str, digest: str) -> ImportJob | None:
    job = (
        ImportJob.objects.filter(kind=kind, content_sha256=digest)
        .exclude(state=ImportState.FAILED)
        .first()
    )
    if job is not None:
        job.reused = True
    return job


def _claim(job_id: int) -> bool:
    """Take the job for this process: queued, or running with a dead worker (compare-and-set)."""
    now = timezone.now()
    claimable = Q(state=ImportState.QUEUED) | Q(
        state=ImportState.RUNNING, heartbeat_at__lt=now - STALE_AFTER
    )
    return (
        ImportJob.objects.filter(claimable, pk=job_id).update(
            state=ImportState.RUNNING, started_at=now, heartbeat_at=now
        )
        == 1
    )


def import_job_run(*, job_id: int) -> ImportJob:
    """Run one job to its end. Safe to call twice or after a crash: batches skip what is in."""
    job = ImportJob.objects.filter(pk=job_id).first()
    if job is None:
        raise NotFound(field="job_id", message=_("No such import."))
    if not _claim(job_id):
        return ImportJob.objects.get(pk=job_id)

    def progress(done: int, total: int) -> None:
        ImportJob.objects.filter(pk=job_id).update(
            rows_done=done, rows_total=total, heartbeat_at=timezone.now()
        )

    report_path = _imports_dir() / f"report-{job_id}.csv"
    try:
        with RejectedReport(report_path) as report:
            if job.kind == ImportKind.ORDERS:
                orders = order_import.import_orders(
                    path=Path(job.stored_path),
                    source=job.source,
                    currency=job.currency,
                    zone=zoneinfo.ZoneInfo(job.time_zone),
                    report=report,
                    actor=job.created_by,
                    progress=progress,
                )
                rows_total = orders.rows_total
                counts = (orders.orders_created, orders.orders_existing, orders.lines_created)
            else:
                people = customer_import.import_customers(
                    path=Path(job.stored_path),
                    source=job.source,
                    report=report,
                    actor=job.created_by,
                    progress=progress,
                )
                rows_total = people.rows_total
                counts = (people.created, people.existing, 0)
    except DomainError as exc:
        report_path.unlink(missing_ok=True)
        return _finish(job_id, state=ImportState.REFUSED, error=exc.message)
    except Exception as exc:
        logger.exception("import %s failed", job_id)
        _finish(job_id, state=ImportState.FAILED, error=f"{type(exc).__name__}: {exc}")
        raise
    return _finish(
        job_id,
        state=ImportState.DONE,
        rows_total=rows_total,
        rows_done=rows_total,
        rows_rejected=report.count,
        created_count=counts[0],
        existing_count=counts[1],
        lines_count=counts[2],
        report_path=str(report_path),
    )


@transaction.atomic
def _finish(job_id: int, *, state: str, **fields: Any) -> ImportJob:
    ImportJob.objects.filter(pk=job_id).update(state=state, finished_at=timezone.now(), **fields)
    job = ImportJob.objects.get(pk=job_id)
    event_record(
        event_type=f"import.{state}",
        subject=job,
        actor=job.created_by,
        payload={
            "kind": job.kind,
            "file": job.file_name,
            "rows": job.rows_total,
            "rejected": job.rows_rejected,
            "created": job.created_count,
            "existing": job.existing_count,
            "error": job.error,
        },
    )
    return job


def import_jobs_claimable() -> list[int]:
    """Jobs waiting for a worker, or abandoned by one: the periodic tick takes them up."""
    stale = timezone.now() - STALE_AFTER
    return list(
        ImportJob.objects.filter(
            Q(state=ImportState.QUEUED) | Q(state=ImportState.RUNNING, heartbeat_at__lt=stale)
        ).values_list("pk", flat=True)
    )
