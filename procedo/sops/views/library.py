"""The library of ready SOPs: the page that lists them, and installing them."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from procedo.accounts.decorators import requires
from procedo.accounts.permissions import user_can
from procedo.analytics.formatting import kpi_target_text
from procedo.analytics.kpis import KPIS
from procedo.business.selectors import business_get
from procedo.core.errors import DomainError
from procedo.sops import library as sop_library
from procedo.sops.describe import cancel_text, step_text, trigger_text
from procedo.sops.kinds import STEP_KINDS
from procedo.sops.models import Revision, SubjectType


@requires("sops.view")
def library(request: HttpRequest) -> HttpResponse:
    installed = sop_library.library_installed()
    latest: dict[int, Any] = {}
    for revision in Revision.objects.filter(sop__in=list(installed.values())).order_by("-number"):
        latest.setdefault(revision.sop_id, revision)
    entries = []
    currency = business_get().currency
    for key, source in sop_library.LIBRARY.items():
        entry = source.translated()  # in the reader's language
        definition = entry.definition
        subject_type = entry.subject_type
        sop = installed.get(key)
        entries.append(
            {
                "key": key,
                "entry": entry,
                "subject": SubjectType(subject_type).label,
                "kpi": KPIS[entry.kpi].label,
                "target": kpi_target_text(entry.kpi, entry.kpi_target, currency=currency),
                "triggers": [
                    trigger_text(t, subject_type=subject_type) for t in definition["triggers"]
                ],
                "cancel_rules": [
                    cancel_text(r, subject_type=subject_type)
                    for r in definition.get("cancel_on", [])
                ],
                "steps": [
                    (step["title"], step_text(step, subject_type=subject_type))
                    for step in definition["steps"]
                ],
                "people_steps": sum(
                    STEP_KINDS[step["kind"]].by_person for step in definition["steps"]
                ),
                "sop": sop,
                "revision": latest.get(sop.pk) if sop else None,
            }
        )
    return render(
        request,
        "sops/library.html",
        {
            "entries": entries,
            "pending": sop_library.PENDING,
            "missing": sum(item["sop"] is None for item in entries),
            "can_author": user_can(request.user, "sops.author"),
        },
    )


@require_POST
@requires("sops.author")
def library_install(request: HttpRequest) -> HttpResponse:
    keys = None if request.POST.get("all") else request.POST.getlist("key")
    try:
        result = sop_library.library_install(keys=keys, actor=request.user)
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("sops:library")
    if result:
        messages.success(
            request,
            _("Installed as drafts: %(names)s. Adapt each, then send it for review.")
            % {"names": ", ".join(sop.name for sop in result)},
        )
    if result.already:
        messages.info(
            request,
            _("Already installed, left as they are: %(names)s.")
            % {"names": ", ".join(sop.name for sop in result.already)},
        )
    if len(result) == 1 and not result.already:
        return redirect("sops:revision", revision_id=result[0].revisions.get().pk)
    return redirect("sops:library")
