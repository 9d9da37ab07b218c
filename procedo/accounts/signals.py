from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from procedo.accounts import services


@receiver(user_logged_in)
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    ip = request.META.get("REMOTE_ADDR") if request is not None else None
    services.user_logged_in(user=user, ip=ip)
