"""Reads YAML REST test files in place: `setup`, `teardown`, the tests, and `requires`.

A file is a stream of YAML documents. Each document is a mapping holding `setup`, `teardown`,
one or more named tests (each a list of steps), or — in the clients' tests — a `requires`
mapping such as `{stack: true, serverless: false}` that applies to the whole file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class _CoreSchemaLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars.

    PyYAML follows YAML 1.1, where `yes`/`no`/`on`/`off` are booleans, `12:30` is a base-60
    integer and `2024-01-01` is a date. The tests were written for a parser that reads those as
    strings, so only `true`/`false`, plain decimal integers and floats, and `null`/`~` are typed.
    """


_CoreSchemaLoader.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _CoreSchemaLoader.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))


def _construct_core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    return int(loader.construct_scalar(node))


_CoreSchemaLoader.add_constructor("tag:yaml.org,2002:int", _construct_core_int)


def load_yaml_documents(text: str) -> list[Any]:
    return [doc for doc in yaml.load_all(text, Loader=_CoreSchemaLoader) if doc is not None]


@dataclass
class YamlTest:
    name: str
    steps: list[dict[str, Any]]


@dataclass
class YamlSuite:
    """One YAML file: its shared sections and its tests."""

    folder: str  # relative to the yaml-tests folder, e.g. "es-api-key"
    file: str  # e.g. "10_basic.yml"
    path: Path
    requires: dict[str, Any] | None = None
    setup: list[dict[str, Any]] = field(default_factory=list)
    teardown: list[dict[str, Any]] = field(default_factory=list)
    tests: list[YamlTest] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.folder}/{self.file}"


class YamlFormatError(Exception):
    pass


def load_suite(path: Path, folder: str) -> YamlSuite:
    suite = YamlSuite(folder=folder, file=path.name, path=path)
    for doc in load_yaml_documents(path.read_text(encoding="utf-8")):
        if not isinstance(doc, dict):
            raise YamlFormatError(f"{path}: a document is not a mapping")
        for name, body in doc.items():
            if name == "requires" and isinstance(body, dict):
                suite.requires = body
            elif name == "setup":
                suite.setup = _steps(path, name, body)
            elif name == "teardown":
                suite.teardown = _steps(path, name, body)
            else:
                suite.tests.append(YamlTest(name=str(name), steps=_steps(path, name, body)))
    return suite


def _steps(path: Path, name: str, body: Any) -> list[dict[str, Any]]:
    if body is None:
        return []
    if not isinstance(body, list) or not all(isinstance(s, dict) for s in body):
        raise YamlFormatError(f"{path}: [{name}] is not a list of steps")
    return body


def discover(root: Path, folders: list[str]) -> list[YamlSuite]:
    """Every `*.yml`/`*.yaml` file under each folder of `root`, in name order."""
    suites = []
    for folder in folders:
        base = root / folder
        files = sorted([*base.glob("*.yml"), *base.glob("*.yaml")])
        for path in files:
            suites.append(load_suite(path, folder))
    return suites
