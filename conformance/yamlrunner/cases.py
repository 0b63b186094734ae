"""Where the YAML tests, the API specs and the keyward binary are, and the test cases."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .loader import YamlSuite, YamlTest, discover
from .spec import ApiSpecs

CONFORMANCE_DIR = Path(__file__).resolve().parent.parent
REPO_DIR = CONFORMANCE_DIR.parent
# Folders of the shared `yaml-tests` folder whose files are run.
YAML_FOLDERS = ["es-api-key", "clients-tests/security"]


# Where the workplace keeps the shared folder when the checkout is elsewhere (CI's clean clone).
WORKPLACE_SHARED = Path("/work/shared")


def shared_dir() -> Path:
    """The read-only reference folder: `KEYWARD_SHARED`, else the nearest `shared` folder beside
    the repo or one of its parents, else the workplace's `/work/shared`."""
    if os.environ.get("KEYWARD_SHARED"):
        return Path(os.environ["KEYWARD_SHARED"]).resolve()
    for parent in REPO_DIR.parents:
        candidate = parent / "shared"
        if (candidate / "yaml-tests").is_dir():
            return candidate.resolve()
    return WORKPLACE_SHARED


def keyward_binary() -> Path:
    return Path(os.environ.get("KEYWARD_BIN") or REPO_DIR / "target" / "release" / "keyward")


def api_specs() -> ApiSpecs:
    return ApiSpecs(shared_dir() / "spec" / "rest-api-spec")


_SUITES: list[YamlSuite] | None = None


def yaml_suites() -> list[YamlSuite]:
    global _SUITES
    if _SUITES is None:
        root = shared_dir() / "yaml-tests"
        if not root.is_dir():
            raise FileNotFoundError(
                f"YAML tests not found at {root}; set KEYWARD_SHARED to the shared folder"
            )
        _SUITES = discover(root, YAML_FOLDERS)
    return _SUITES


@dataclass(frozen=True)
class YamlCase:
    """One test of one YAML file through one transport."""

    suite: YamlSuite
    test: YamlTest
    transport: str

    @property
    def id(self) -> str:
        return f"{self.transport}:{self.suite.key}:{self.test.name}"
