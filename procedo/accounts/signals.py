from __future__ import annotations

from typing import Any

from axes.handlers.proxy import AxesProxyHandler
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver

from procedo.accounts import services
from procedo.accounts.clients import client_address


@receiver(user_logged_in)
def record_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    ip = client_address(request) if request is not None else None
    services.user_logged_in(user=user, ip=ip)
    if request is not None:
        # Their own typos from here are forgiven; guesses at others from here are not.
        AxesProxyHandler.reset_attempts(username=user.get_username(), ip_address=ip)


@receiver(user_locked_out)
def record_lockout(
    sender: Any, request: Any, username: Any, ip_address: Any, **kwargs: Any
) -> None:
    services.user_locked_out(username=username, address=ip_address)
