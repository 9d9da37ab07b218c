"""Huey tasks for imports: wake-ups; the job rows in the database are the state."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from procedo.imports import services


@db_task()
def import_run(job_id: int) -> None:
    services.import_job_run(job_id=job_id)


@db_periodic_task(crontab(minute="*"))
def imports_tick() -> None:
    """Jobs whose wake-up was lost, or whose worker died, start again within a minute."""
    for job_id in services.import_jobs_claimable():
        services.import_job_run(job_id=job_id)
