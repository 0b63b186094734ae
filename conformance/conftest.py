"""pytest wiring for the conformance suites.

* options: `--transport`, `--against`, `--run-skipped`, `--keep-going`, `--es-version`;
* `keyward_server`: a fresh keyward on an empty data directory for each test (or, with
  `--against URL`, an existing cluster);
* the YAML cases (file × test × transport), with their skip marks from `skip.toml` and from the
  tests' own prerequisites;
* the closing summary: one line per folder, per-file counts per transport, and the tolerated
  differences in how a 403's error reason words the caller's roles (yamlrunner/reasons.py).
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from yamlrunner.cases import CONFORMANCE_DIR, YamlCase, keyward_binary, yaml_suites
from yamlrunner.runner import WordingDifference, skip_reason
from yamlrunner.server import DEFAULT_PASSWORD, DEFAULT_PG_URL, KeywardCluster, KeywardServer
from yamlrunner.skiplist import TRANSPORTS, SkipList

SKIP_FILE = CONFORMANCE_DIR / "skip.toml"
# The version keyward reports at `GET /`, used for `skip: {version: …}` ranges.
DEFAULT_ES_VERSION = "9.4.0"

_WORDING = pytest.StashKey[list[tuple[str, WordingDifference]]]()
_OUTCOMES = pytest.StashKey[dict[str, dict[str, Any]]]()
_SKIPLIST = pytest.StashKey[SkipList]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("keyward")
    group.addoption(
        "--transport",
        action="append",
        choices=TRANSPORTS,
        help="YAML transport(s) to run: http (rest-api-spec + http.client) and/or client "
        "(official Python client). Default: both.",
    )
    group.addoption(
        "--against",
        metavar="URL",
        default=os.environ.get("KEYWARD_AGAINST"),
        help="run against this already-running cluster instead of a fresh keyward per test "
        "(user elastic, password from ELASTIC_PASSWORD)",
    )
    group.addoption(
        "--run-skipped",
        action="store_true",
        help="ignore skip.toml (to see how the skipped tests fail today)",
    )
    group.addoption(
        "--keep-going",
        action="store_true",
        help="YAML tests: record every failing step instead of stopping at the first",
    )
    group.addoption("--es-version", default=DEFAULT_ES_VERSION, help="for skip: version ranges")
    group.addoption(
        "--nodes",
        type=int,
        default=1,
        help="more than 1: every test gets that many keyward nodes on one fresh PostgreSQL "
        "database, and spreads its requests over them round-robin",
    )
    group.addoption(
        "--pg-url",
        default=os.environ.get("KEYWARD_TEST_PG_URL", DEFAULT_PG_URL),
        help="the PostgreSQL server for --nodes (any database on it; each test makes its own)",
    )


_CONFIG: pytest.Config | None = None


def pytest_configure(config: pytest.Config) -> None:
    global _CONFIG
    _CONFIG = config
    config.stash[_WORDING] = []
    config.stash[_OUTCOMES] = {}
    config.stash[_SKIPLIST] = SkipList.load(SKIP_FILE)


# -- servers ---------------------------------------------------------------------------------


@dataclass
class ExternalCluster:
    url: str
    user: str
    password: str
    startup_seconds: float = 0.0

    def log_tail(self, max_chars: int = 4000) -> str:
        return ""

    @property
    def urls(self) -> list[str]:
        return [self.url]


_SERVER = pytest.StashKey[Any]()


@pytest.fixture
def keyward_server(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh keyward on an empty data dir, `--nodes` of them on a fresh PostgreSQL database, or
    the `--against` cluster."""
    against = request.config.getoption("--against")
    if against:
        yield ExternalCluster(
            against.rstrip("/"), "elastic", os.environ.get("ELASTIC_PASSWORD", DEFAULT_PASSWORD)
        )
        return
    nodes = request.config.getoption("--nodes")
    server: KeywardServer | KeywardCluster
    if nodes > 1:
        server = KeywardCluster(
            keyward_binary(), nodes, pg_url=request.config.getoption("--pg-url")
        )
    else:
        server = KeywardServer(keyward_binary())
    server.start()
    request.node.stash[_SERVER] = server
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    server = item.stash.get(_SERVER, None)
    if server is not None and report.failed and call.when in ("setup", "call"):
        tail = server.log_tail()
        if tail:
            report.sections.append(("keyward stderr (tail)", tail))
    return report


# -- YAML cases ------------------------------------------------------------------------------


def yaml_params(config: pytest.Config) -> list[Any]:
    transports = config.getoption("--transport") or list(TRANSPORTS)
    skiplist = config.stash[_SKIPLIST]
    run_skipped = config.getoption("--run-skipped")
    es_version = config.getoption("--es-version")
    params = []
    try:
        suites = yaml_suites()
    except FileNotFoundError as exc:
        raise pytest.UsageError(str(exc)) from exc
    for suite in suites:
        for test in suite.tests:
            prerequisite = skip_reason(suite, test, es_version=es_version)
            for transport in TRANSPORTS:
                # Marks the entries used whatever --transport selects (for the stale check).
                skiplist.reason(suite.key, test.name, transport)
            for transport in transports:
                case = YamlCase(suite, test, transport)
                marks = []
                listed = skiplist.reason(suite.key, test.name, transport)
                if prerequisite:
                    marks.append(pytest.mark.skip(reason=prerequisite))
                elif listed and not run_skipped:
                    marks.append(pytest.mark.skip(reason=f"skip.toml: {listed}"))
                params.append(pytest.param(case, id=case.id, marks=marks))
    return params


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "yaml_case" in metafunc.fixturenames:
        metafunc.parametrize("yaml_case", yaml_params(metafunc.config))


@pytest.fixture
def record_wording(request: pytest.FixtureRequest) -> Any:
    """Call with a list of WordingDifference to list them in the closing summary."""

    def record(diffs: list[WordingDifference]) -> None:
        request.config.stash[_WORDING].extend((request.node.nodeid, d) for d in diffs)

    return record


# -- summary ---------------------------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        case = callspec.params.get("yaml_case") if callspec else None
        if isinstance(case, YamlCase):
            item.user_properties += [
                ("folder", case.suite.folder),
                ("file", case.suite.key),
                ("transport", case.transport),
            ]
        else:
            rel = Path(str(item.path)).resolve().relative_to(CONFORMANCE_DIR)
            named = {
                "test_python_client.py": "python-client",
                "test_operability.py": "operability",
                "test_openapi.py": "openapi",
            }
            folder = named.get(rel.name, str(rel.parent))
            if folder == "unit":
                folder = "runner-unit"
            item.user_properties.append(("folder", folder))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if _CONFIG is None:
        return
    outcomes = _CONFIG.stash[_OUTCOMES]
    entry = outcomes.setdefault(report.nodeid, {"props": dict(report.user_properties)})
    previous = entry.get("outcome")
    if report.failed:
        entry["outcome"] = "failed"
    elif report.skipped and previous is None:
        entry["outcome"] = "skipped"
    elif report.when == "call" and report.passed and previous is None:
        entry["outcome"] = "passed"


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    outcomes = config.stash[_OUTCOMES]
    if not outcomes:
        return
    tr = terminalreporter
    by_folder: dict[str, Counter[str]] = defaultdict(Counter)
    by_file: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for entry in outcomes.values():
        outcome = entry.get("outcome")
        if outcome is None:
            continue
        props = entry["props"]
        by_folder[props.get("folder", "other")][outcome] += 1
        if "file" in props:
            by_file[(props["transport"], props["file"])][outcome] += 1

    if by_file:
        tr.write_sep("-", "YAML results per file and transport")
        for (transport, file), counts in sorted(by_file.items(), key=lambda x: (x[0][1], x[0][0])):
            tr.write_line(f"  {transport:<6} {file}: {_counts(counts)}")

    wording = config.stash[_WORDING]
    if wording:
        tr.write_sep("-", f"403 role-wording differences ({len(wording)}; not failures)")
        for nodeid, diff in wording:
            tr.write_line(f"  {nodeid.split('::', 1)[-1]}: {diff.line()}")

    skiplist = config.stash[_SKIPLIST]
    stale = skiplist.stale() if _collected_yaml(outcomes) else []
    if stale:
        tr.write_sep("-", "skip.toml entries that matched no test")
        for key in stale:
            tr.write_line(f"  {key}")

    tr.write_sep("-", "results per folder")
    for folder in sorted(by_folder):
        tr.write_line(f"{folder}: {_counts(by_folder[folder])}")


def _collected_yaml(outcomes: dict[str, dict[str, Any]]) -> bool:
    return any("file" in e["props"] for e in outcomes.values())


def _counts(counts: Counter[str]) -> str:
    return f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
