"""The OpenAPI contract: `GET /_keyward/openapi.json` is loaded from a live keyward and
schemathesis exercises every operation with it (`st run`, bounded and deterministic): no 5xx
for anything a client sends, and every response matches the document."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest


def test_openapi_is_served_without_credentials(keyward_server: Any) -> None:
    with urllib.request.urlopen(keyward_server.url + "/_keyward/openapi.json", timeout=30) as res:
        assert res.status == 200
        document = json.load(res)
    assert document["openapi"].startswith("3.1")
    assert "/_security/api_key" in document["paths"]
    assert set(document["components"]["securitySchemes"]) == {"basic", "apiKey", "bearer"}


def test_schemathesis_finds_no_server_error(
    keyward_server: Any, request: Any, tmp_path: Path
) -> None:
    if request.config.getoption("--nodes") > 1 or request.config.getoption("--against"):
        pytest.skip("run once, against one fresh node")
    st = Path(sys.executable).with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            keyward_server.url + "/_keyward/openapi.json",
            "--auth",
            f"{keyward_server.user}:{keyward_server.password}",
            "--checks",
            "not_a_server_error,response_schema_conformance,content_type_conformance",
            "--phases",
            "coverage,fuzzing,stateful",
            "--max-examples",
            os.environ.get("KEYWARD_SCHEMATHESIS_EXAMPLES", "10"),
            "--generation-deterministic",
            "--request-timeout",
            "30",
            "--no-color",
            # The SAML and OpenID Connect APIs answer 500 by design: it is Elasticsearch's
            # answer when no such realm is configured (crates/keyward/tests/it/realms.rs).
            "--exclude-path-regex",
            "^/_security/(saml|oidc)/",
        ],
        # Its example database and reports go to the test's own directory.
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
