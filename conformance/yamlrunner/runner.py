"""Executes one YAML test (setup, the test's steps, teardown) through one transport.

`skip_reason` decides before anything runs whether a test applies (its `requires`/`skip`
prerequisites); `TestRun.run` then executes the steps and returns a `RunResult` with the
failures and the error-reason wording differences it found.

Every `match` must hold exactly, with one exception: an `error.reason` of a 403 that differs from
the test's only in how its roles clause is worded (`reasons.py`: the three wordings Elasticsearch
has used) is recorded as a wording difference instead of a failure. `Warning` headers are checked
as Elasticsearch's runner checks them (`warning_headers.py`).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .loader import YamlSuite, YamlTest
from .matchers import (
    compare,
    contains,
    describe,
    first_difference,
    is_truthy,
    regex_literal,
    regex_search,
)
from .paths import MISSING, lookup
from .reasons import canonical_403_reason
from .spec import ParamError, UnknownApiError
from .stash import Stash, StashError, java_text
from .transports import Response, Transport
from .warning_headers import WarningRules, WarningSpecError

# Runner features this runner implements (`skip: {features: …}` / `requires:
# {test_runner_features: …}`); a test needing any other is skipped.
SUPPORTED_FEATURES = frozenset(
    {
        "headers",
        "transform_and_set",
        "warnings",
        "allowed_warnings",
        "warnings_regex",
        "allowed_warnings_regex",
        "stash_in_key",
        "stash_in_path",
        "embedded_stash_key",
        "arbitrary_key",
        "contains",
        "gtelte",
        "catch_unauthorized",
        "node_selector",
        "default_shards",
        "x_pack",
    }
)

# `catch` names and the status each stands for.
CATCH_STATUS = {
    "bad_request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "missing": 404,
    "request_timeout": 408,
    "conflict": 409,
    "unavailable": 503,
}
# `catch: request` is "any other error": 4xx/5xx except the statuses that have their own name
# (the format wants the specific name used when there is one).
_REQUEST_EXCLUDED = {400, 401, 403, 404, 408, 409}

# Keys of a `do` step that are not the API call.
_DO_MODIFIERS = {
    "catch",
    "headers",
    "warnings",
    "allowed_warnings",
    "warnings_regex",
    "allowed_warnings_regex",
    "node_selector",
    "ignore",
}

_REASON_PATH = re.compile(r"^error(?:\.root_cause\.\d+)?\.reason$")

_ASSERTIONS = {"match", "is_true", "is_false", "length", "gt", "gte", "lt", "lte", "contains"}


# -- prerequisites ---------------------------------------------------------------------------


def skip_reason(
    suite: YamlSuite,
    test: YamlTest,
    *,
    es_version: str,
    features: frozenset[str] = SUPPORTED_FEATURES,
) -> str | None:
    """Why this test does not apply to keyward, or None when it should run."""
    if suite.requires is not None:
        # The clients' tests say whether they apply to a stack (self-managed) cluster, to
        # serverless, or both; keyward answers as a stack cluster.
        if suite.requires.get("stack") is False:
            return "the file requires a serverless cluster (requires: stack: false)"
    for section, steps in (("setup", suite.setup), ("test", test.steps)):
        for step in leading_prerequisites(steps):
            (kind, spec), = step.items()
            reason = _prerequisite_reason(kind, spec or {}, es_version, features)
            if reason:
                return f"{section}: {reason}"
    return None


def leading_prerequisites(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for step in steps:
        if len(step) == 1 and next(iter(step)) in ("skip", "requires"):
            out.append(step)
        else:
            break
    return out


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def _prerequisite_reason(
    kind: str, spec: dict[str, Any], es_version: str, features: frozenset[str]
) -> str | None:
    needed = _as_list(spec.get("features")) + _as_list(spec.get("test_runner_features"))
    missing = [f for f in needed if f not in features]
    if missing:
        return f"runner lacks feature(s) {missing}"
    if kind == "skip":
        if "awaits_fix" in spec:
            return f"awaits fix: {spec['awaits_fix']}"
        if "known_issues" in spec:
            return f"known issues: {spec.get('reason', spec['known_issues'])}"
        if "version" in spec and version_in_ranges(es_version, str(spec["version"])):
            return f"skipped for version {es_version}: {spec.get('reason', '')}".strip()
        # `cluster_features` in a skip means "skip if the cluster has them": keyward has none.
        # `os` is ignored: no test depends on the operating system of this server.
    if kind == "requires" and spec.get("cluster_features"):
        return f"needs cluster features {_as_list(spec['cluster_features'])}"
    return None


def parse_version(text: str) -> tuple[int, ...]:
    nums = re.findall(r"\d+", text)
    return tuple(int(n) for n in nums[:3]) + (0,) * (3 - min(3, len(nums)))


def version_in_ranges(version: str, ranges: str) -> bool:
    """`all`, `a - b`, ` - b`, `a - `, comma-separated; bounds inclusive."""
    ranges = ranges.strip()
    if ranges == "all":
        return True
    v = parse_version(version)
    for item in ranges.split(","):
        item = item.strip()
        if not item:
            continue
        low, sep, high = item.partition("-")
        if not sep:
            if parse_version(low) == v:
                return True
            continue
        lo = parse_version(low) if low.strip() else (0, 0, 0)
        hi = parse_version(high) if high.strip() else (10**9, 0, 0)
        if lo <= v <= hi:
            return True
    return False


# -- execution -------------------------------------------------------------------------------


class StepFailure(Exception):
    """A step did not hold; the message says what was expected and what came back."""


@dataclass
class WordingDifference:
    """A 403 `error.reason` that differs from the test's only in the wording of its roles."""

    where: str
    path: str
    error_type: Any
    expected: Any
    actual: Any

    def line(self) -> str:
        return (
            f"{self.where}: {self.path} (type {java_text(self.error_type)}) "
            f"expected {describe(self.expected, 400)} got {describe(self.actual, 400)}"
        )


@dataclass
class RunResult:
    failures: list[str] = field(default_factory=list)
    wording: list[WordingDifference] = field(default_factory=list)
    last_request: str = ""
    last_response: str = ""

    @property
    def passed(self) -> bool:
        return not self.failures

    def report(self) -> str:
        """First line: the first failure (the diagnosis); then the rest and the last exchange."""
        lines = list(self.failures)
        if len(lines) > 1:
            lines[0] += f"  (+{len(lines) - 1} more)"
        if self.last_request:
            lines.append(f"last request: {self.last_request}")
        if self.last_response:
            lines.append(f"last response: {self.last_response}")
        return "\n".join(lines)


class TestRun:
    """Runs one test; a new instance (and stash) for every test."""

    __test__ = False  # not a pytest test class

    def __init__(self, transport: Transport, *, keep_going: bool = False) -> None:
        self.transport = transport
        self.keep_going = keep_going
        self.stash = Stash()
        self.last: Response | None = None
        self.result = RunResult()
        # With keep_going, the checks that follow a failed `do` are not run: they would only
        # repeat that failure.
        self._do_failed = False

    def run(self, suite: YamlSuite, test: YamlTest) -> RunResult:
        ok = self._section("setup", suite.setup)
        if ok or self.keep_going:
            self._section("test", test.steps)
        self._section("teardown", suite.teardown)
        return self.result

    # -- sections and steps --

    def _section(self, section: str, steps: list[dict[str, Any]]) -> bool:
        """Runs the steps; False when one failed (and the section stopped, unless keep_going)."""
        ok = True
        for index, step in enumerate(steps, start=1):
            if len(step) != 1:
                self._fail(f"{section} step {index}: a step must have exactly one key: {step}")
                return False
            (kind, spec), = step.items()
            where = f"{section} step {index} ({kind})"
            try:
                self._step(where, kind, spec)
            except StepFailure as exc:
                self._fail(f"{where}: {exc}")
                ok = False
                if not self.keep_going:
                    break
        return ok

    def _fail(self, message: str) -> None:
        self.result.failures.append(message)

    def _step(self, where: str, kind: str, spec: Any) -> None:
        if kind in ("skip", "requires"):
            return  # evaluated by skip_reason before the run
        if kind == "do":
            self._do_failed = True
            self._do(spec or {})
            self._do_failed = False
            return
        if self._do_failed:
            return
        if kind == "set":
            self._set(spec)
            return
        if kind == "transform_and_set":
            self._transform_and_set(spec)
            return
        if kind in _ASSERTIONS:
            self._assert(where, kind, spec)
            return
        raise StepFailure(f"unsupported step [{kind}]")

    # -- do --

    def _do(self, spec: dict[str, Any]) -> None:
        spec = dict(spec)
        modifiers = {k: spec.pop(k) for k in list(spec) if k in _DO_MODIFIERS}
        if len(spec) != 1:
            raise StepFailure(f"a do step must name exactly one API, got {sorted(spec)}")
        (api, raw_args), = spec.items()
        try:
            args = self._substitute_args(raw_args or {})
            headers = {
                str(k): java_text(self.stash.substitute(v))
                for k, v in (modifiers.get("headers") or {}).items()
            }
            catch = self.stash.substitute(modifiers.get("catch"))
        except StashError as exc:
            raise StepFailure(str(exc)) from exc
        try:
            warning_rules = WarningRules.from_step(modifiers)
        except WarningSpecError as exc:
            raise StepFailure(str(exc)) from exc
        ignore = {int(s) for s in _as_list(args.pop("ignore", None) or modifiers.get("ignore"))}

        self.last = None
        self.stash.last_body = None
        try:
            response = self.transport.perform(api, args, headers)
        except ParamError as exc:
            if catch == "param":
                self.result.last_request = f"{api} (not sent: {exc})"
                return
            raise StepFailure(f"[{api}] request could not be built: {exc}") from exc
        except UnknownApiError as exc:
            raise StepFailure(f"[{api}] unknown API: {exc}") from exc
        except StepFailure:
            raise
        except Exception as exc:  # connection refused, reset, timeout, client internals
            raise StepFailure(f"[{api}] no response: {type(exc).__name__}: {exc}") from exc

        self.last = response
        self.stash.last_body = response.body
        self.result.last_request = response.request_line
        self.result.last_response = f"{response.status} {describe(response.body, 1500)}"

        if catch == "param":
            raise StepFailure(
                f"[{api}] expected the request to be refused before sending (catch: param), "
                f"but it was sent: {response.request_line} -> {response.status}"
            )
        if catch is not None:
            self._check_catch(api, catch, response)
            return
        if response.status >= 400 and response.status not in ignore:
            raise StepFailure(
                f"[{api}] {response.request_line} -> {response.status} {error_summary(response)}"
            )
        # As in Elasticsearch's runner, only an answer that is not an error (or whose status
        # is ignored) has its warnings checked.
        problems = warning_rules.problems(response.header_values("Warning"))
        if problems:
            raise StepFailure(f"[{api}] {response.request_line}: {'; '.join(problems)}")

    def _substitute_args(self, args: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for key, value in args.items():
            key = self.stash.substitute_key(key)
            if key == "body" and isinstance(value, str):
                try:
                    out[key] = self.stash.substitute_json_text(value)
                except ValueError:
                    out[key] = self.stash.interpolate(value)
            else:
                out[key] = self.stash.substitute(value)
        return out

    def _check_catch(self, api: str, catch: Any, response: Response) -> None:
        status = response.status
        summary = f"{response.request_line} -> {status} {error_summary(response)}"
        if isinstance(catch, str) and catch in CATCH_STATUS:
            if status != CATCH_STATUS[catch]:
                raise StepFailure(
                    f"[{api}] expected {CATCH_STATUS[catch]} ({catch}), got {summary}"
                )
            return
        if catch == "request":
            if status < 400 or status in _REQUEST_EXCLUDED:
                raise StepFailure(f"[{api}] expected an error (catch: request), got {summary}")
            return
        pattern = regex_literal(catch)
        if pattern is not None:
            if status < 400:
                raise StepFailure(f"[{api}] expected an error matching {catch}, got {summary}")
            if not regex_search(pattern, response.text):
                raise StepFailure(f"[{api}] error body does not match {catch}: {summary}")
            return
        raise StepFailure(f"unsupported catch [{catch}]")

    # -- set --

    def _body(self) -> Any:
        if self.last is None:
            raise StepFailure("no response to check (the previous do step sent nothing)")
        return self.last.body

    def _lookup(self, path: str) -> Any:
        try:
            return lookup(self._body(), path, self.stash)
        except StashError as exc:
            raise StepFailure(str(exc)) from exc

    def _set(self, spec: dict[str, Any]) -> None:
        for path, name in spec.items():
            value = self._lookup(str(path))
            if value is MISSING:
                raise StepFailure(f"set: no [{path}] in the response: {describe(self._body())}")
            self.stash.set(str(name), value)

    def _transform_and_set(self, spec: dict[str, Any]) -> None:
        for name, expression in spec.items():
            m = re.fullmatch(r"\s*#(\w+)\((.*)\)\s*", str(expression))
            if not m:
                raise StepFailure(f"transform_and_set: cannot read [{expression}]")
            function, arg_text = m.group(1), m.group(2)
            if function != "base64EncodeCredentials":
                raise StepFailure(f"transform_and_set: unsupported function [{function}]")
            paths = [a.strip() for a in arg_text.split(",")]
            if len(paths) != 2:
                raise StepFailure(f"base64EncodeCredentials takes two paths, got {paths}")
            values = []
            for path in paths:
                value = self._lookup(path)
                if value is MISSING or value is None:
                    raise StepFailure(
                        f"transform_and_set: no [{path}] in the response: {describe(self._body())}"
                    )
                values.append(java_text(value))
            encoded = base64.b64encode(":".join(values).encode("utf-8")).decode("ascii")
            self.stash.set(str(name), encoded)

    # -- assertions --

    def _assert(self, where: str, kind: str, spec: Any) -> None:
        if kind in ("is_true", "is_false"):
            path = "" if spec is None else str(spec)
            actual = self._lookup(path)
            if kind == "is_true" and not is_truthy(actual):
                raise StepFailure(f"is_true [{path}]: got {describe(actual)}")
            if kind == "is_false" and is_truthy(actual):
                raise StepFailure(f"is_false [{path}]: got {describe(actual)}")
            return
        if not isinstance(spec, dict) or not spec:
            raise StepFailure(f"{kind} needs a mapping of path: value, got {spec!r}")
        for raw_path, raw_expected in spec.items():
            path = str(raw_path)
            try:
                expected = self.stash.substitute(raw_expected)
                shown_path = self.stash.interpolate(path)
            except StashError as exc:
                raise StepFailure(str(exc)) from exc
            actual = self._lookup(path)
            if kind == "match":
                self._match(where, shown_path, expected, actual)
            elif kind == "length":
                if actual is MISSING or not isinstance(actual, (list, dict, str)):
                    raise StepFailure(f"length [{shown_path}]: got {describe(actual)}")
                if len(actual) != expected:
                    raise StepFailure(
                        f"length [{shown_path}]: expected {describe(expected)}, got {len(actual)}: "
                        f"{describe(actual)}"
                    )
            elif kind == "contains":
                if not contains(actual, expected):
                    raise StepFailure(
                        f"contains [{shown_path}]: {describe(expected)} not in {describe(actual)}"
                    )
            else:
                if actual is MISSING or actual is None:
                    raise StepFailure(f"{kind} [{shown_path}]: got {describe(actual)}")
                try:
                    ok = compare(kind, actual, expected)
                except TypeError as exc:
                    raise StepFailure(f"{kind} [{shown_path}]: {exc}") from exc
                if not ok:
                    raise StepFailure(
                        f"{kind} [{shown_path}]: {describe(actual)} is not {kind} "
                        f"{describe(expected)}"
                    )

    def _match(self, where: str, path: str, expected: Any, actual: Any) -> None:
        pattern = regex_literal(expected)
        if pattern is not None:
            ok = regex_search(pattern, actual)
            problem = None if ok else f"got {describe(actual)}, wanted /{pattern}/"
        elif expected is None and actual is MISSING:
            problem = None
        else:
            problem = first_difference(expected, actual)
        if problem is None:
            return
        if self._is_wording_difference(path, expected, actual):
            error_type = self._lookup(path[: -len("reason")] + "type")
            self.result.wording.append(
                WordingDifference(
                    where, path, None if error_type is MISSING else error_type, expected, actual
                )
            )
            return
        raise StepFailure(f"match [{path}]: {problem}")

    def _is_wording_difference(self, path: str, expected: Any, actual: Any) -> bool:
        """A 403 reason that matches the expected one once both roles clauses are canonical."""
        return (
            self.last is not None
            and self.last.status == 403
            and _REASON_PATH.match(path) is not None
            and isinstance(expected, str)
            and isinstance(actual, str)
            and canonical_403_reason(expected) == canonical_403_reason(actual)
        )


def error_summary(response: Response) -> str:
    """`type: reason` of an error body, else the body itself, shortened."""
    body = response.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return f"{err.get('type')}: {describe(err.get('reason'), 300)}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return describe(body["error"], 300)
    return describe(body, 300)


def dump_step(step: dict[str, Any]) -> str:
    return json.dumps(step, ensure_ascii=False, default=str)[:300]
