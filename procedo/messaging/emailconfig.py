"""EMAIL_URL and DEFAULT_FROM_EMAIL from the environment (imported by settings.py: no Django here).

EMAIL_URL forms:
  outbox                               (the default) each email is written whole, as it would
                                       have gone out, to PROCEDO_VAR/outbox/<id>.eml: nothing
                                       leaves the machine, and the Messages page shows it
  smtp://user:pass@host:587/?tls=1     STARTTLS after connecting
  smtps://user:pass@host:465/          TLS from the first byte
  smtp://127.0.0.1:1025                a local catcher such as aiosmtpd/Mailpit
  console                              print each message to the worker's stdout
Query options: tls=0/1, timeout=<seconds, default 20>.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from procedo.core.envconfig import ConfigError

# Out of the box nothing listens for SMTP: an SMTP default left every email queued,
# its error shown only on each message's page. The outbox delivers them where
# people can read them.
EMAIL_URL_DEFAULT = "outbox"


def email_url_parse(
    url: str, *, variable: str = "EMAIL_URL", var: Path | None = None
) -> dict[str, Any]:
    url = url.strip()
    if url == "console":
        return {"backend": "console"}
    if url == "outbox":
        if var is None:
            raise ConfigError(variable, "the outbox needs PROCEDO_VAR")
        return {"backend": "outbox", "directory": str(var / "outbox")}
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(variable, f"cannot parse it ({exc})") from exc
    if parts.scheme not in {"smtp", "smtps"}:
        raise ConfigError(
            variable,
            f"unsupported scheme {parts.scheme!r}; use smtp://, smtps://, outbox or console",
        )
    if not parts.hostname:
        raise ConfigError(variable, "needs a host, e.g. smtp://user:pass@mail.example.com:587")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    unknown = set(query) - {"tls", "timeout"}
    if unknown:
        raise ConfigError(variable, f"unknown option(s) {', '.join(sorted(unknown))}")
    tls_raw = query.get("tls", "0").lower()
    if tls_raw not in {"0", "1", "true", "false", "yes", "no"}:
        raise ConfigError(variable, f"tls= expects 0 or 1, got {tls_raw!r}")
    try:
        timeout = float(query.get("timeout", "20"))
    except ValueError:
        raise ConfigError(variable, "timeout= expects seconds") from None
    if timeout <= 0:
        raise ConfigError(variable, "timeout= must be positive")
    ssl = parts.scheme == "smtps"
    return {
        "backend": "smtp",
        "host": parts.hostname,
        "port": port or (465 if ssl else 25),
        "username": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "ssl": ssl,
        "starttls": tls_raw in {"1", "true", "yes"},
        "timeout": timeout,
    }


def email_from_env(var: Path) -> dict[str, Any]:
    return email_url_parse(os.environ.get("EMAIL_URL") or EMAIL_URL_DEFAULT, var=var)


def from_email_from_env() -> str:
    value = (os.environ.get("DEFAULT_FROM_EMAIL") or "Procedo <noreply@localhost>").strip()
    address = value.rsplit("<", 1)[-1].rstrip(">").strip()
    if "@" not in address or " " in address:
        raise ConfigError("DEFAULT_FROM_EMAIL", f"not an email address: {value!r}")
    return value


def sms_url_parse(url: str, *, variable: str = "SMS_URL") -> dict[str, Any] | None:
    """`twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com/?from=%2B15005550006` (empty: no SMS).

    The host may be any http(s) base (`twilio+http://127.0.0.1:8099` for a local stand-in).
    """
    url = url.strip()
    if not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(variable, f"cannot parse it ({exc})") from exc
    if parts.scheme not in {"twilio", "twilio+http"}:
        raise ConfigError(variable, f"unsupported scheme {parts.scheme!r}; use twilio://")
    if not parts.username or not parts.password:
        raise ConfigError(variable, "needs ACCOUNT_SID:AUTH_TOKEN@host")
    query = {key: values[-1] for key, values in parse_qs(parts.query).items()}
    sender = query.get("from", "")
    if not sender:
        raise ConfigError(variable, "needs ?from=<E.164 number or messaging service>")
    scheme = "http" if parts.scheme == "twilio+http" else "https"
    host = parts.hostname or "api.twilio.com"
    return {
        "provider": "twilio",
        "base_url": f"{scheme}://{host}" + (f":{port}" if port else ""),
        "account_sid": unquote(parts.username),
        "auth_token": unquote(parts.password),
        "from": sender,
        "timeout": float(query.get("timeout", "15")),
    }


def sms_from_env() -> dict[str, Any] | None:
    return sms_url_parse(os.environ.get("SMS_URL", ""))
