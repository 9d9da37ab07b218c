from __future__ import annotations

from pathlib import Path

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from procedo.accounts.decorators import requires
from procedo.core.errors import DomainError
from procedo.core.forms import refusal_add
from procedo.core.requests import HtmxHttpRequest
from procedo.core.uploads import upload_limit_message, upload_limited, upload_too_large
from procedo.imports import selectors, services
from procedo.imports.forms import ImportForm
from procedo.imports.models import ImportJob


@upload_limited
@require_http_methods(["GET", "POST"])
@requires("imports.run")
def import_list(request: HttpRequest) -> HttpResponse:
    # Declared too large, the body stays unread; or it passed the limit while being read.
    if not upload_too_large(request):
        form = ImportForm(request.POST or None, request.FILES or None)
    if upload_too_large(request):
        form = ImportForm()
        form.errors["file"] = form.error_class([upload_limit_message()])
        context = {"form": form, "jobs": selectors.import_jobs_recent()}
        return render(request, "imports/list.html", context, status=413)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                kind=form.cleaned_data["kind"],
                file_name=upload.name,
                content=upload,
                source=form.cleaned_data["source"],
                currency=form.cleaned_data["currency"],
                time_zone=form.cleaned_data["time_zone"],
                actor=request.user,
            )
        except DomainError as exc:
            refusal_add(form, exc.field, exc.message)
            status = exc.status_code
        else:
            return redirect("imports:detail", job_id=job.pk)
    else:
        status = 422 if form.errors else 200
    context = {"form": form, "jobs": selectors.import_jobs_recent()}
    return render(request, "imports/list.html", context, status=status)


@requires("imports.run")
def import_detail(request: HtmxHttpRequest, job_id: int) -> HttpResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    template = "imports/detail.html#progress" if request.htmx else "imports/detail.html"
    return render(request, template, {"job": job})


@requires("imports.run")
def import_report(request: HttpRequest, job_id: int) -> FileResponse:
    job = get_object_or_404(ImportJob, pk=job_id)
    if not job.report_path or not Path(job.report_path).is_file():
        raise Http404("no report for this import")
    return FileResponse(
        Path(job.report_path).open("rb"),
        as_attachment=True,
        filename=f"rejected-rows-{job.pk}.csv",
        content_type="text/csv; charset=utf-8",
    )
