"""Lists the APIs each YAML test calls; helps keep `skip.toml` in step with the server.

    python -m yamlrunner.inventory                      # every test and the APIs it calls
    python -m yamlrunner.inventory --missing a,b,...    # skip.toml lines for tests calling them

APIs called only in teardown are left out of `--missing`: teardown deletes carry `ignore: 404`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from .cases import yaml_suites
from .loader import YamlSuite, YamlTest
from .runner import skip_reason
from .spec import canonical_api

_NOT_APIS = {
    "catch",
    "headers",
    "warnings",
    "allowed_warnings",
    "warnings_regex",
    "allowed_warnings_regex",
    "node_selector",
    "ignore",
}


# What each not-yet-served API belongs to, for the reasons written into skip.toml.
AREAS = {
    "users and roles": [
        "put_user", "delete_user", "get_user", "query_user", "enable_user", "disable_user",
        "change_password", "put_role", "delete_role", "get_role", "query_role", "bulk_put_role",
        "bulk_delete_role", "clear_cached_roles",
    ],
    "application privileges": [
        "put_privileges", "get_privileges", "delete_privileges", "get_builtin_privileges",
        "clear_cached_privileges", "has_privileges", "get_user_privileges",
    ],
    "query API keys": ["query_api_keys"],
    "grant API keys": ["grant_api_key"],
    "tokens": ["get_token", "invalidate_token"],
    "cross-cluster API keys": ["create_cross_cluster_api_key", "update_cross_cluster_api_key"],
    "service accounts": [
        "get_service_accounts", "create_service_token", "get_service_credentials",
        "clear_cached_service_tokens", "delete_service_token",
    ],
    "role mappings": ["put_role_mapping", "get_role_mapping", "delete_role_mapping"],
    "user profiles": [
        "activate_user_profile", "get_user_profile", "disable_user_profile",
        "enable_user_profile", "has_privileges_user_profile", "suggest_user_profiles",
        "update_user_profile_data",
    ],
    "security settings": ["get_settings", "update_settings"],
    "security stats": ["get_stats"],
}
_AREA_OF = {f"security.{api}": area for area, apis in AREAS.items() for api in apis}


def reason_for(apis: list[str]) -> str:
    areas: list[str] = []
    for api in apis:
        area = _AREA_OF.get(api, "other")
        if area not in areas:
            areas.append(area)
    names = ", ".join(a.removeprefix("security.") for a in apis)
    return f"not built yet: {'; '.join(areas)} ({names})"


def apis_in(steps: list[dict[str, Any]]) -> list[str]:
    found: list[str] = []
    for step in steps:
        do = step.get("do")
        if not isinstance(do, dict):
            continue
        for key in do:
            if key not in _NOT_APIS:
                api = canonical_api(str(key))
                if api not in found:
                    found.append(api)
    return found


def test_apis(suite: YamlSuite, test: YamlTest) -> tuple[list[str], list[str]]:
    """(APIs of setup + test, APIs of teardown)."""
    main = apis_in(suite.setup)
    for api in apis_in(test.steps):
        if api not in main:
            main.append(api)
    return main, apis_in(suite.teardown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--missing", default="", help="comma-separated API names not served yet")
    parser.add_argument("--es-version", default="9.4.0")
    args = parser.parse_args()
    missing = {canonical_api(a.strip()) for a in args.missing.split(",") if a.strip()}
    for suite in yaml_suites():
        for test in suite.tests:
            apis, teardown = test_apis(suite, test)
            prerequisite = skip_reason(suite, test, es_version=args.es_version)
            if not missing:
                extra = f"  [skipped by the file: {prerequisite}]" if prerequisite else ""
                print(f"{suite.key}::{test.name}: {', '.join(apis)}{extra}")
                continue
            if prerequisite:
                continue
            needed = [a for a in apis if a in missing]
            if needed:
                key = json.dumps(f"{suite.key}::{test.name}")
                print(f"{key} = {json.dumps(reason_for(needed))}")


if __name__ == "__main__":
    main()
