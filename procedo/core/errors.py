"""The errors a business rule raises; every interface turns them into its own answer.

Each error carries the field it is about (a form puts it next to that field, the API
names it), a translated message for people, and a stable `code` for programs, so an
API client branches on `code`, never on the text. Every code is listed in `CODES`
(and so in the OpenAPI document); a new one is added there first.
"""

from __future__ import annotations

CODES: dict[str, str] = {
    # the default of each class
    "invalid": "The value is not accepted; `field` names it and `detail` says why.",
    "not_found": "The object named by `field` does not exist (or is not visible to you).",
    "conflict": "The request contradicts the current state; reload and decide again.",
    "permission_denied": "Your role does not allow this; `detail` names the permission.",
    "unauthenticated": "No valid credentials: send `Authorization: Bearer <token>` or log in.",
    "throttled": "Too many attempts; wait for the seconds in `Retry-After`.",
    "unavailable": "The database is busy or out of reach; nothing was saved. Retry later.",
    # specific situations a program may want to handle
    "too_large": "A number, a length or a file is over the stated limit.",
    "idempotency_key_reused": (
        "This Idempotency-Key was used before for another operation or another body."
    ),
    "idempotency_key_in_progress": "A request with this Idempotency-Key is still running.",
    "transition_not_allowed": "The pipeline or workflow does not allow this move.",
    "stale": "The object changed meanwhile; reload it and try again.",
    "out_of_stock": "Not enough stock for a line.",
    "not_editable": "The object's state no longer allows changing it (an order past editing).",
    "duplicate": "Something with this identity exists already.",
    "merged": "The customer was merged into another one; change that one instead.",
    "role_too_high": "You cannot give, change or act on a role above your own.",
    # loyalty and referrals
    "overlapping": "Two ranges start at the same point (loyalty tiers' thresholds).",
    "unordered": "A list must run from the lowest value up (loyalty tiers' thresholds).",
    "own_code": "A customer's own referral code was used on their own order.",
    "unknown_code": "No referral code is like the one given.",
}


class DomainError(Exception):
    """A rule said no. `field` tells every interface (form, API, CLI) where, `code` what."""

    status_code = 422
    default_code = "invalid"

    def __init__(self, *, field: str, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.message = message
        self.code = code or self.default_code
        if self.code not in CODES:
            raise ValueError(f"unlisted error code {self.code!r}: add it to CODES")


class NotFound(DomainError):
    status_code = 404
    default_code = "not_found"


class Conflict(DomainError):
    status_code = 409
    default_code = "conflict"


class PermissionDenied(DomainError):
    status_code = 403
    default_code = "permission_denied"


class TooLarge(DomainError):
    status_code = 413
    default_code = "too_large"
