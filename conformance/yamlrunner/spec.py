"""Builds HTTP requests from the rest-api-spec JSON files (`security.create_api_key.json` …).

Given an API name and the arguments a YAML `do` step passes to it, `RequestBuilder.build`
chooses the URL path (the most specific one whose parts are all given), the method (one that
takes a body when a body is given), turns the remaining arguments into query parameters and
returns a `Request`. Problems with the arguments themselves raise `ParamError`, which is what a
`catch: param` step expects.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .stash import java_text

# The YAML tests call `security.query_api_key` (singular) in an old file; the API is
# `security.query_api_keys` in every client and spec today.
API_ALIASES = {"security.query_api_key": "security.query_api_keys"}

# Query parameters every API accepts.
COMMON_PARAMS = {"pretty", "human", "error_trace", "filter_path", "source"}

# Arguments of a `do` step that steer the client rather than the request.
CLIENT_ONLY_ARGS = {"ignore", "request_timeout"}

# The rest-api-spec files in the shared folder only cover `security.*`; these are the few other
# APIs the YAML tests call (their setup sections), described in the same shape.
BUILTIN_SPECS: dict[str, dict[str, Any]] = {
    "info": {
        "url": {"paths": [{"path": "/", "methods": ["GET"]}]},
        "params": {},
    },
    "cluster.health": {
        "url": {
            "paths": [
                {"path": "/_cluster/health", "methods": ["GET"]},
                {
                    "path": "/_cluster/health/{index}",
                    "methods": ["GET"],
                    "parts": {"index": {"type": "list"}},
                },
            ]
        },
        "params": {
            name: {}
            for name in (
                "expand_wildcards",
                "level",
                "local",
                "master_timeout",
                "timeout",
                "wait_for_active_shards",
                "wait_for_nodes",
                "wait_for_events",
                "wait_for_no_relocating_shards",
                "wait_for_no_initializing_shards",
                "wait_for_status",
            )
        },
    },
}


class ParamError(Exception):
    """The step's arguments cannot make a request (missing part, unknown parameter …)."""


class UnknownApiError(Exception):
    """No spec describes this API."""


@dataclass
class Request:
    method: str
    path: str
    query: list[tuple[str, str]] = field(default_factory=list)
    body: bytes | None = None
    content_type: str | None = None

    @property
    def target(self) -> str:
        if not self.query:
            return self.path
        return self.path + "?" + urllib.parse.urlencode(self.query)


def canonical_api(name: str) -> str:
    return API_ALIASES.get(name, name)


def param_text(value: Any) -> str:
    """A query-string or path value: lists are comma-joined, booleans are `true`/`false`."""
    if isinstance(value, (list, tuple)):
        return ",".join(param_text(v) for v in value)
    return java_text(value)


def encode_body(body: Any) -> tuple[bytes, str]:
    """JSON text as given, anything else rendered as JSON (no security API takes NDJSON)."""
    if isinstance(body, (bytes, bytearray)):
        return bytes(body), "application/json"
    if isinstance(body, str):
        return body.encode("utf-8"), "application/json"
    return json.dumps(body, ensure_ascii=False).encode("utf-8"), "application/json"


class ApiSpecs:
    """The API descriptions read from a rest-api-spec folder, plus the built-in ones."""

    def __init__(self, spec_dir: Path | None) -> None:
        self._dir = spec_dir
        self._cache: dict[str, dict[str, Any]] = {}

    def known(self, api: str) -> bool:
        try:
            self.get(api)
        except UnknownApiError:
            return False
        return True

    def get(self, api: str) -> dict[str, Any]:
        api = canonical_api(api)
        if api in self._cache:
            return self._cache[api]
        if api in BUILTIN_SPECS:
            spec = BUILTIN_SPECS[api]
        else:
            path = self._dir / f"{api}.json" if self._dir else None
            if path is None or not path.is_file():
                raise UnknownApiError(f"no rest-api-spec file for [{api}]")
            with path.open(encoding="utf-8") as fh:
                data = json.load(fh)
            if api not in data:
                raise UnknownApiError(f"{path} does not describe [{api}]")
            spec = data[api]
        self._cache[api] = spec
        return spec


class RequestBuilder:
    """Turns `(api, args)` into a `Request` using `ApiSpecs`."""

    def __init__(self, specs: ApiSpecs) -> None:
        self.specs = specs

    def build(self, api: str, args: dict[str, Any]) -> Request:
        api = canonical_api(api)
        spec = self.specs.get(api)
        args = {k: v for k, v in args.items() if v is not None and k not in CLIENT_ONLY_ARGS}
        body = args.pop("body", None)

        path_spec = self._choose_path(api, spec, args)
        parts = path_spec.get("parts") or {}
        path = path_spec["path"]
        for part in parts:
            value = args.pop(part)
            text = param_text(value)
            if text == "":
                raise ParamError(f"[{api}] path part [{part}] is empty")
            path = path.replace("{" + part + "}", urllib.parse.quote(text, safe=",*"))

        known_params = set((spec.get("params") or {}).keys()) | COMMON_PARAMS
        query: list[tuple[str, str]] = []
        for name, value in args.items():
            if name not in known_params:
                raise ParamError(f"param [{name}] is not supported by [{api}]")
            query.append((name, param_text(value)))

        body_spec = spec.get("body")
        if body is None and body_spec and body_spec.get("required"):
            raise ParamError(f"[{api}] requires a body")
        if body is not None and body_spec is None:
            raise ParamError(f"[{api}] takes no body")

        method = self._choose_method(path_spec["methods"], body is not None)
        request = Request(method=method, path=path, query=query)
        if body is not None:
            request.body, request.content_type = encode_body(body)
        return request

    @staticmethod
    def _choose_path(api: str, spec: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        candidates = []
        for path_spec in spec["url"]["paths"]:
            parts = path_spec.get("parts") or {}
            if all(p in args for p in parts):
                candidates.append(path_spec)
        if not candidates:
            wanted = [sorted((p.get("parts") or {}).keys()) for p in spec["url"]["paths"]]
            raise ParamError(f"[{api}] needs path parts {wanted}, got {sorted(args)}")
        # The most specific path: the one that uses the most of the given arguments.
        return max(candidates, key=lambda p: len(p.get("parts") or {}))

    @staticmethod
    def _choose_method(methods: list[str], has_body: bool) -> str:
        if has_body:
            for method in methods:
                if method not in ("GET", "HEAD"):
                    return method
            return methods[0]
        if "GET" in methods:
            return "GET"
        return methods[0]
