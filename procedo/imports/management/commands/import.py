"""`procedo import orders FILE.csv` / `procedo import customers FILE.csv`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from procedo.core.errors import DomainError
from procedo.imports import services
from procedo.imports.models import ImportKind, ImportState

EXIT_REJECTED_ROWS = 3


class Command(BaseCommand):
    help = (
        "Import a CSV file (gzip allowed) of orders or customers. Exit status: 0 all rows in, "
        f"1 the file was refused, {EXIT_REJECTED_ROWS} some rows were rejected (see the report)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("kind", choices=ImportKind.values)
        parser.add_argument("file", type=Path)
        parser.add_argument(
            "--source",
            default="csv",
            help="where the rows come from; external refs are <source>:<id>",
        )
        parser.add_argument("--currency", default="", help="ISO code when the file has none")
        parser.add_argument(
            "--timezone",
            default="",
            help="zone of times without an offset (default: the business's)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"file: {path} does not exist")
        try:
            with path.open("rb") as content:
                job = services.import_job_create(
                    kind=options["kind"],
                    file_name=path.name,
                    content=content,
                    source=options["source"],
                    currency=options["currency"],
                    time_zone=options["timezone"],
                    in_worker=False,
                )
        except DomainError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from None
        job = services.import_job_run(job_id=job.pk)
        if job.state == ImportState.REFUSED:
            raise CommandError(f"file refused: {job.error}")
        self.stdout.write(
            f"{job.rows_total} rows read: {job.created_count} {job.kind} created, "
            f"{job.existing_count} already present, {job.lines_count} lines; "
            f"{job.rows_rejected} rows rejected."
        )
        if job.rows_rejected:
            self.stdout.write(
                f"Rejected rows with their line numbers and reasons: {job.report_path}"
            )
            sys.exit(EXIT_REJECTED_ROWS)
