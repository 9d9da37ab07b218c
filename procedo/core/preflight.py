"""Start-up checks that turn an unreachable backend into one line naming its variable."""

from __future__ import annotations

import errno
import os
import socket

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


def listen_check(host: str, port: int, *, host_name: str = "HOST", port_name: str = "PORT") -> None:
    """Bind host:port once and let go, so a taken port is one line, not gunicorn's retries."""
    try:
        family, kind, proto, _name, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigError(host_name, f"cannot resolve {host!r} ({exc})") from None
    with socket.socket(family, kind, proto) as probe:
        # As gunicorn does: a port left in TIME_WAIT by the previous run is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(port_name, f"{host}:{port} is already in use") from None
            if exc.errno == errno.EACCES:
                raise ConfigError(port_name, f"port {port} needs root; use 1024 or above") from None
            raise ConfigError(host_name, f"cannot listen on {host} ({exc.strerror})") from None
