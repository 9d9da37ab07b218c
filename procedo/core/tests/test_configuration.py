"""Start-up and configuration, through the real `procedo` command in a subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import huey
import pytest
from django.utils.module_loading import import_string

# Each test starts the real `procedo` command: a Python and Django start-up apiece.
pytestmark = pytest.mark.slow


def _procedo(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    inherited = {"DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in inherited}
    clean.update(
        {"PROCEDO_VAR": str(tmp_path / "var"), "DJANGO_SETTINGS_MODULE": "config.settings"}
    )
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-m", "procedo", *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_unsupported_database_url_stops_with_one_line_naming_it(tmp_path: Path) -> None:
    result = _procedo("check", env={"DATABASE_URL": "mysql://u@h/db"}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "procedo: configuration error: DATABASE_URL: unsupported scheme 'mysql';"
        " use sqlite:/// or postgresql://"
    ]


def test_an_unreachable_database_stops_run_with_one_line(tmp_path: Path) -> None:
    result = _procedo(
        "run",
        "--no-demo",
        env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none"},
        tmp_path=tmp_path,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "DATABASE_URL: cannot connect to the database" in lines[0]
    assert "Traceback" not in result.stderr


def test_an_unreachable_redis_stops_run_with_one_line(tmp_path: Path) -> None:
    result = _procedo(
        "run", "--no-demo", env={"REDIS_URL": "redis://127.0.0.1:9/0"}, tmp_path=tmp_path
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "REDIS_URL: cannot reach Redis" in lines[0]


@pytest.mark.parametrize(
    ("env", "args", "named"),
    [
        ({"PORT": "abc"}, [], "PORT: expected a TCP port from 1 to 65535, got 'abc'"),
        ({"PORT": "0"}, [], "PORT: expected a TCP port from 1 to 65535, got '0'"),
        ({}, ["--port", "99999"], "--port: expected a TCP port from 1 to 65535, got '99999'"),
        ({}, ["--web-workers", "none"], "--web-workers: expected a whole number, got 'none'"),
        ({"HOST": "no-such-host.invalid"}, [], "HOST: cannot resolve 'no-such-host.invalid'"),
        ({"PROCEDO_WORKERS": "x"}, [], "PROCEDO_WORKERS: expected a whole number, got 'x'"),
        ({"PROCEDO_WORKERS": "0"}, [], "PROCEDO_WORKERS: expected 1 to 64, got 0"),
        ({"CSRF_TRUSTED_ORIGINS": "crm.example.com"}, [], "CSRF_TRUSTED_ORIGINS: expected"),
        ({"PROCEDO_PHONE_REGION": "XX"}, [], "PROCEDO_PHONE_REGION: expected a two-letter"),
        ({"PROCEDO_BASE_URL": "crm.example.com"}, [], "PROCEDO_BASE_URL: expected https://"),
        ({"PROCEDO_BASE_URL": "https://crm:x/"}, [], "PROCEDO_BASE_URL: cannot parse it"),
        ({"REDIS_URL": "redis://127.0.0.1:x/0"}, [], "REDIS_URL: cannot parse it"),
        ({"DJANGO_SETTINGS_MODULE": "config.nope"}, [], "DJANGO_SETTINGS_MODULE: no module"),
    ],
)
def test_a_bad_setting_stops_run_with_one_line_naming_it(
    env: dict[str, str], args: list[str], named: str, tmp_path: Path
) -> None:
    result = _procedo("run", "--no-demo", *args, env=env, tmp_path=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"procedo: configuration error: {named}")
    # Nothing was started or written: the check comes before the database is touched.
    assert not (tmp_path / "var" / "procedo.sqlite3").exists()


def test_a_port_in_use_stops_run_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = _procedo("run", "--no-demo", env={"PORT": port}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"procedo: configuration error: PORT: 127.0.0.1:{port} is already in use"
    ]


def test_a_bad_flag_value_names_the_variable(tmp_path: Path) -> None:
    result = _procedo("check", env={"PROCEDO_DEBUG": "maybe"}, tmp_path=tmp_path)
    assert result.returncode == 2 and "PROCEDO_DEBUG: expected true/false" in result.stderr


def test_secret_key_is_generated_once_into_var(tmp_path: Path) -> None:
    assert _procedo("check", env={}, tmp_path=tmp_path).returncode == 0
    key = (tmp_path / "var" / "secret_key").read_text()
    assert len(key) >= 50
    assert _procedo("check", env={}, tmp_path=tmp_path).returncode == 0
    assert (tmp_path / "var" / "secret_key").read_text() == key


def test_deploy_check_is_clean_with_production_settings(tmp_path: Path) -> None:
    result = _procedo(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        env={
            "PROCEDO_HTTPS": "1",
            "ALLOWED_HOSTS": "crm.example.com",
            "SECRET_KEY": "s" * 20 + "x9!Q" * 10,
        },
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("redis_url", ["", "redis://127.0.0.1:6379/3"])
def test_redis_url_switches_the_queue_with_no_code_change(redis_url: str, tmp_path: Path) -> None:
    from procedo.core.envconfig import huey_from_env

    os.environ.pop("REDIS_URL", None)
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    try:
        config = huey_from_env(tmp_path, immediate=False)
    finally:
        os.environ.pop("REDIS_URL", None)
    queue = import_string(config["huey_class"])
    assert issubclass(queue, huey.RedisHuey if redis_url else huey.SqliteHuey)


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("PROCEDO_MAX_UPLOAD_MB", "lots", "expected a whole number, got 'lots'"),
        ("PROCEDO_IMPORT_MAX_ROWS", "0", "expected 1 to 10000000000, got 0"),
        ("PROCEDO_DB_LOCK_WAIT", "3600", "expected 1 to 600, got 3600"),
    ],
)
def test_a_bad_limit_stops_with_one_line_naming_it(
    tmp_path: Path, variable: str, value: str, problem: str
) -> None:
    result = _procedo("check", env={variable: value}, tmp_path=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"procedo: configuration error: {variable}: {problem}"
    ]


@pytest.mark.parametrize(
    ("env", "base_url"),
    [
        ({}, "http://127.0.0.1:8000"),
        ({"PORT": "8123"}, "http://127.0.0.1:8123"),
        ({"HOST": "0.0.0.0", "PORT": "8123"}, "http://127.0.0.1:8123"),
        (
            {"PORT": "8123", "PROCEDO_BASE_URL": "https://crm.example.com/"},
            "https://crm.example.com",
        ),
    ],
)
def test_links_in_messages_default_to_the_port_served(
    env: dict[str, str], base_url: str, tmp_path: Path
) -> None:
    env = {"PORT": "", "HOST": "", "PROCEDO_BASE_URL": "", **env}
    script = "from django.conf import settings; print(settings.PROCEDO_BASE_URL)"
    result = _procedo("shell", "-c", script, env=env, tmp_path=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == base_url
