"""Reading Procedo's configuration from the environment.

Settings are environment-only: one process reads these variables at start-up,
and a bad value stops it with a single line that names the variable.
This module imports nothing from Django so that settings.py can use it.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dj_database_url
import phonenumbers


class ConfigError(Exception):
    """A configuration value is wrong; the message names the variable."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable


def env_flag(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, f"expected true/false, got {raw!r}")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if not raw:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int(name: str, default: int, *, low: int = 1, high: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"expected {low} to {high}, got {value}")
    return value


def var_dir(base_dir: Path) -> Path:
    path = Path(os.environ.get("PROCEDO_VAR") or base_dir / "var").resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        (path / "static").mkdir(exist_ok=True)
    except OSError as exc:
        raise ConfigError("PROCEDO_VAR", f"cannot create {path}: {exc.strerror}") from exc
    return path


def secret_key(var: Path) -> str:
    """SECRET_KEY from the environment, else one generated once into var/ (never committed)."""
    from_env = os.environ.get("SECRET_KEY")
    if from_env:
        if len(from_env) < 50:
            raise ConfigError("SECRET_KEY", "must be at least 50 characters long")
        return from_env
    key_file = var / "secret_key"
    if not key_file.exists():
        # O_EXCL: two processes starting at once must not write two different keys.
        try:
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(64))
    return key_file.read_text().strip()


def database_from_env(var: Path) -> dict[str, Any]:
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{var / 'procedo.sqlite3'}"
    scheme = urlsplit(url).scheme
    if scheme not in {"sqlite", "postgres", "postgresql", "pgsql"}:
        raise ConfigError(
            "DATABASE_URL", f"unsupported scheme {scheme!r}; use sqlite:/// or postgresql://"
        )
    try:
        # A thread keeps its connection for a minute (health-checked at each request's
        # start): opening one costs more than most requests' queries, on PostgreSQL a new
        # server process. PROCEDO_DB_CONN_MAX_AGE=0 closes it after every request.
        config: dict[str, Any] = dict(
            dj_database_url.parse(
                url,
                conn_max_age=env_int("PROCEDO_DB_CONN_MAX_AGE", 60, low=0, high=3600),
                conn_health_checks=True,
            )
        )
    except ValueError as exc:
        raise ConfigError("DATABASE_URL", f"cannot parse it ({exc})") from exc
    if config["ENGINE"] == "django.db.backends.sqlite3":
        if not config.get("NAME"):
            raise ConfigError("DATABASE_URL", "an SQLite URL needs a file path")
        config["OPTIONS"] = {
            # One writer at a time, taken at BEGIN: a writer waits instead of
            # failing half-way with "database is locked".
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL;"
                "PRAGMA synchronous=NORMAL;"
                "PRAGMA foreign_keys=ON;"
                "PRAGMA cache_size=-65536;"
            ),
        }
        config["TEST"] = {"NAME": str(var / "test.sqlite3")}
    else:
        if not config.get("NAME"):
            raise ConfigError("DATABASE_URL", "a PostgreSQL URL needs a database name")
        config.setdefault("OPTIONS", {})
        config["OPTIONS"].setdefault("connect_timeout", 5)
        # Django turns psycopg's preparing off (None); a statement then cannot be prepared
        # even when asked (core.rows.bound_cursor(prepared=True)). A threshold never reached
        # prepares only what asks: nothing else changes.
        config["OPTIONS"].setdefault("prepare_threshold", 2**31 - 1)
    return config


def huey_from_env(var: Path, *, immediate: bool) -> dict[str, Any]:
    redis_url = os.environ.get("REDIS_URL")
    common: dict[str, Any] = {
        "name": "procedo",
        "immediate": immediate,
        # Tasks are wake-ups; the durable state is in the database, so a lost
        # result is harmless and storing results would only grow the queue.
        "results": False,
        "consumer": {
            "workers": env_int("PROCEDO_WORKERS", 2, low=1, high=64),
            "worker_type": "process",  # procedo/core/worker.py
            "periodic": True,
            "check_worker_health": True,
            # Huey on SQLite polls its queue, backing off while idle up to max_delay
            # (10 s by default, then 1 s here): each hop of a commit's path to a task
            # (the writer's wake-up, the engine's) waited for the next poll, and a
            # quiet store's order took up to 1.1 s (make bench, B2b). A poll is one
            # indexed SELECT on var/huey.sqlite3: ten a second per worker cost an idle
            # consumer 0.4% of a core (0.1% at 1 s). Huey on Redis blocks on the queue.
            "max_delay": 0.1,
        },
    }
    if redis_url:
        try:
            parts = urlsplit(redis_url)
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ConfigError("REDIS_URL", f"cannot parse it ({exc})") from None
        if parts.scheme not in {"redis", "rediss", "unix"}:
            raise ConfigError("REDIS_URL", "expected redis://host:port/db")
        return {**common, "huey_class": "procedo.core.worker.RedisHuey", "url": redis_url}
    return {
        **common,
        "huey_class": "procedo.core.worker.SqliteHuey",
        "filename": str(var / "huey.sqlite3"),
    }


def env_origins(name: str) -> list[str]:
    """CSRF_TRUSTED_ORIGINS: each entry a scheme and a host, as Django's check insists."""
    origins = env_list(name, [])
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise ConfigError(name, f"expected https://host entries, got {origin!r}")
    return origins


def base_url_from_env(default: str) -> str:
    """PROCEDO_BASE_URL: where people reach this installation, for links in messages."""
    url = (os.environ.get("PROCEDO_BASE_URL") or default).strip().rstrip("/")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError("PROCEDO_BASE_URL", f"cannot parse it ({exc})") from None
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError("PROCEDO_BASE_URL", f"expected https://host[:port], got {url!r}")
    return url


# The wildcard addresses cannot be visited; their loopback twin can.
LOOPBACK_OF_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1"}  # noqa: S104


def served_url(host: str, port: int) -> str:
    """Where a browser on this machine reaches `procedo run` listening on host:port."""
    host = LOOPBACK_OF_WILDCARD.get(host, host)
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def served_url_from_env() -> str:
    """PROCEDO_BASE_URL's default: the address HOST and PORT make `procedo run` serve."""
    return served_url(
        os.environ.get("HOST") or "127.0.0.1", port_parse("PORT", os.environ.get("PORT") or "8000")
    )


def phone_region_from_env(default: str) -> str:
    region = (os.environ.get("PROCEDO_PHONE_REGION") or default).strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            "PROCEDO_PHONE_REGION", f"expected a two-letter country code such as UA, got {region!r}"
        )
    return region


def int_parse(name: str, raw: str, *, low: int, high: int) -> int:
    """A number given on the command line, checked as env_int checks the environment's."""
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(name, f"expected a whole number, got {raw!r}") from None
    if not low <= value <= high:
        raise ConfigError(name, f"expected {low} to {high}, got {value}")
    return value


def port_parse(name: str, raw: str) -> int:
    try:
        return int_parse(name, raw, low=1, high=65535)
    except ConfigError:
        raise ConfigError(name, f"expected a TCP port from 1 to 65535, got {raw!r}") from None
