"""Start-up checks that turn an unreachable backend into one line naming its variable."""

from __future__ import annotations

import os

from django.db import connection
from django.db.utils import DatabaseError

from procedo.core.envconfig import ConfigError


def database_check() -> None:
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError("DATABASE_URL", f"cannot connect to the database ({reason})") from exc


def redis_check() -> None:
    url = os.environ.get("REDIS_URL")
    if not url:
        return
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise ConfigError("REDIS_URL", f"cannot reach Redis ({exc})") from exc
