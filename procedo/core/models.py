from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    """One use of an idempotency key: who used it, for what, with which request, and the result.

    Stripe's rules: a key belongs to its caller (`scope`); its first use fixes the
    operation and a fingerprint of the request; a repeat with both the same answers
    with the first result, anything else is refused. Written in the transaction of the
    work it guards, so a key without a result never commits. Kept for `TTL` (24 h).
    """

    scope = models.CharField(max_length=40)  # "user:<id>", or "system" for the worker
    key = models.CharField(max_length=255)
    operation = models.CharField(max_length=80)
    fingerprint = models.CharField(max_length=64)
    result_id = models.BigIntegerField(null=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_per_caller")
        ]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} → {self.operation}"
