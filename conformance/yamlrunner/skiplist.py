"""`conformance/skip.toml`: every skipped YAML file or test, with a one-line reason.

Keys name a file (`"es-api-key/13_bulk_grant.yml"`) or one test of it
(`"es-api-key/10_basic.yml::Test get api key"`). A key may start with `http:` or `client:` to
skip a test for one transport only. Values are the reason, shown in the pytest report.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

TRANSPORTS = ("http", "client")


@dataclass
class SkipList:
    entries: dict[str, str] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, path: Path) -> "SkipList":
        if not path.is_file():
            return cls()
        with path.open("rb") as fh:
            data = tomllib.load(fh)
        entries: dict[str, str] = {}
        for key, value in data.items():
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"{path}: [{key}] needs a non-empty reason string")
            entries[key] = value.strip()
        return cls(entries)

    def reason(self, file_key: str, test_name: str, transport: str) -> str | None:
        """The reason to skip this test on this transport, or None."""
        candidates = [
            f"{transport}:{file_key}::{test_name}",
            f"{file_key}::{test_name}",
            f"{transport}:{file_key}",
            file_key,
        ]
        for key in candidates:
            if key in self.entries:
                self.used.add(key)
                return self.entries[key]
        return None

    def stale(self) -> list[str]:
        """Entries that matched nothing (a renamed test, a removed file)."""
        return sorted(set(self.entries) - self.used)
