"""Schemathesis over the API document against a live server: no 500s, nothing undocumented."""

from __future__ import annotations

import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from procedo.accounts import services as account_services
from procedo.accounts.roles import Role

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
# The caller's own token and account: a fuzzer that revokes them tests nothing after.
SPARED = ("DELETE /api/accounts/tokens/{token_id}", "PATCH /api/accounts/users/{user_id}")


def test_the_api_holds_under_schemathesis(live_server: Any, tmp_path: Path) -> None:
    st = Path(sys.executable).with_name("st")
    if not st.exists() and not shutil.which("st"):
        pytest.skip("schemathesis is not installed (pip install -e '.[test]')")
    owner = account_services.user_create(
        username="owner", password="correct-horse-battery-staple", role=Role.OWNER
    )
    token = account_services.api_token_issue(
        user=owner, name="fuzz", expires_in_days=None, actor=owner
    ).plaintext
    # The document read once here, without schemathesis's 10-second limit: building it takes
    # a few seconds on a loaded machine, and the fuzzing does not need it again.
    document = tmp_path / "openapi.json"
    with urllib.request.urlopen(f"{live_server.url}/api/openapi.json", timeout=300) as answer:
        document.write_bytes(answer.read())
    command = [
        str(st),
        "run",
        str(document),
        "--url",
        live_server.url,
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        CHECKS,
        "--max-examples",
        "5",
        "--seed",
        "20261206",
        "--workers",
        "1",
        "--phases",
        # Random inputs test the API's own checks, which the database does not change: on
        # PostgreSQL (the suite's longer run) the documented examples and the coverage
        # phase's boundary values (NUL bytes, lengths, extremes) go; SQLite's run fuzzes too.
        "examples,coverage" if connection.vendor == "postgresql" else "examples,coverage,fuzzing",
        "--generation-allow-x00",
        "true",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
    ]
    for name in SPARED:
        command += ["--exclude-name", name]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    summary = done.stdout[-6000:]
    assert done.returncode == 0, summary
    assert "Tested:" in summary and "generated" in summary, summary
