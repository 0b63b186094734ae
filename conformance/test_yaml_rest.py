"""Elasticsearch's YAML REST tests for API keys, run against keyward.

Each case (parametrized in conftest.py) is one test of one YAML file through one transport, on a
fresh server. The files are read in place from the shared folder (`KEYWARD_SHARED`, default
`../shared` from the repo root); `skip.toml` lists the skipped ones.
"""

from __future__ import annotations

from typing import Any

import pytest

from yamlrunner.cases import YamlCase, api_specs
from yamlrunner.runner import TestRun
from yamlrunner.transports import ClientTransport, HttpTransport, Transport


def make_transport(name: str, server: Any) -> Transport:
    if name == "http":
        return HttpTransport(server.urls, server.user, server.password, api_specs())
    return ClientTransport(server.urls, server.user, server.password, specs=api_specs())


def test_yaml(
    yaml_case: YamlCase, keyward_server: Any, record_wording: Any, request: pytest.FixtureRequest
) -> None:
    transport = make_transport(yaml_case.transport, keyward_server)
    try:
        run = TestRun(transport, keep_going=request.config.getoption("--keep-going"))
        result = run.run(yaml_case.suite, yaml_case.test)
    finally:
        transport.close()
    record_wording(result.wording)
    if not result.passed:
        pytest.fail(result.report(), pytrace=False)
