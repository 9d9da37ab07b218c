"""The address platforms post to: /hooks/<platform>/<connection key>/.

No session, no CSRF token (the platform's signature is the proof), no login: the
answer is JSON for the platform's delivery log, and it comes as soon as the body is
stored; processing is the worker's.
"""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from procedo.integrations.services import _common as common_services
from procedo.integrations.services import receiving as receiving_services


def _answer(
    status: int, detail: str, field: str = "", delivery_id: int | None = None
) -> JsonResponse:
    body: dict[str, object] = {"detail": detail}
    if field:
        body["field"] = field
    if delivery_id is not None:
        body["delivery_id"] = delivery_id
    return JsonResponse(body, status=status)


def _too_large() -> JsonResponse:
    return _answer(
        413,
        _("A delivery has at most %(n)s bytes.") % {"n": common_services.MAX_BODY},
        "body",
    )


@csrf_exempt
@require_POST
def hook_receive(request: HttpRequest, platform: str, key: str) -> JsonResponse:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > common_services.MAX_BODY:
        return _too_large()  # unread
    body = request.read(common_services.MAX_BODY + 1)
    if len(body) > common_services.MAX_BODY:
        return _too_large()
    # WooCommerce's first request when a webhook is made: `webhook_id=N`, form-encoded and
    # unsigned. It must get a 2xx or the webhook is not saved; there is nothing to keep.
    if platform == "woocommerce" and body.startswith(b"webhook_id=") and len(body) < 40:
        return _answer(200, _("Ping received."))
    # A database locked or gone raises: the hook's 503 with Retry-After, which the platform
    # retries (procedo.core.middleware.database_unavailable; R6 in make bench and the tests).
    receipt = receiving_services.delivery_receive(
        platform=platform,
        key=key,
        headers=request.headers,  # read as it is: no copy
        body=body,
        content_type=request.content_type or "",
    )
    return _answer(receipt.status, receipt.detail, receipt.field, receipt.delivery_id)


hook_receive.upload_limited = True  # type: ignore[attr-defined]  # its own limit, MAX_BODY
