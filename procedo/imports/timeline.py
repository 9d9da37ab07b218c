"""How the log tells an import of history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils.translation import gettext_lazy

from procedo.events.timeline import sentence_register, subject_register
from procedo.imports.models import ImportJob


def _files(ids: Sequence[int]) -> Mapping[int, str]:
    return dict(ImportJob.objects.filter(pk__in=ids).values_list("pk", "file_name"))


def timeline_register() -> None:
    subject_register("importjob", names=_files, url_name="imports:detail")
    sentence_register("import.queued", gettext_lazy("%(actor)s started importing %(subject)s"))
