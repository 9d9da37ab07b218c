"""Bounded uploads: a request body or uploaded file larger than PROCEDO_MAX_UPLOAD_MB is refused.

Two checks, because a client may send no Content-Length (chunked) or a wrong one:
the declared length, before anything is read (`RequestSizeMiddleware`, and
`upload_limited` for a view that answers with its own page), and the bytes as
they stream in (`BoundedUploadHandler`: past the limit the file is skipped,
its temporary file deleted, and the request marked). Either way nothing is
stored and the answer is 413.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect

# A multipart body carries the form's other fields and boundaries besides the file.
_ENVELOPE = 64 * 1024


def upload_limit() -> int:
    return int(settings.PROCEDO_MAX_UPLOAD_BYTES)


def upload_limit_message() -> str:
    return _("The file is larger than %(limit)s MB, the upload limit (PROCEDO_MAX_UPLOAD_MB).") % {
        "limit": f"{upload_limit() / (1024 * 1024):g}"
    }


def declared_too_large(request: HttpRequest) -> bool:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False  # Django answers a malformed length itself
    return length > upload_limit() + _ENVELOPE


def upload_too_large(request: HttpRequest) -> bool:
    """The request's body or one of its files went past the limit: answer 413, store nothing."""
    return bool(getattr(request, "upload_refused", False))


class BoundedUploadHandler(FileUploadHandler):
    """First of FILE_UPLOAD_HANDLERS: counts the bytes of the request's files as they arrive."""

    def __init__(self, request: HttpRequest | None = None) -> None:
        super().__init__(request)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > upload_limit():
            if self.request is not None:
                self.request.upload_refused = True  # type: ignore[attr-defined]
            # Django closes (and deletes) what the next handlers wrote, then reads
            # the rest of this file through without keeping it.
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


def upload_limited(
    view: Callable[..., HttpResponseBase],
) -> Callable[..., HttpResponseBase]:
    """For a view that answers an oversized upload with its own page (the imports page).

    A request that declares too large a body reaches the view unread and marked
    (`upload_too_large`): the CSRF check would read the whole body first. The
    view must answer such a request with 413 and do nothing else; every other
    request is CSRF-checked as usual.
    """
    protected = csrf_protect(view)

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.method == "POST" and declared_too_large(request):
            request.upload_refused = True  # type: ignore[attr-defined]
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    wrapper.upload_limited = True  # type: ignore[attr-defined]
    return csrf_exempt(wrapper)
