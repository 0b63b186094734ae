"""The one tolerated difference in `error.reason`: how a 403 names the caller's roles.

Elasticsearch has worded the roles clause of an authorization failure
(`action [A] is unauthorized for user [U] <roles clause>, this action is granted by …`) three
ways over time, and the YAML files we run come from different commits
(`shared/yaml-tests/es-api-key/SOURCES.md`):

* `with roles [R]`
* `with effective roles [R]`
* `with declared roles [R] (all resolved)`

`canonical_403_reason` rewrites each of the three to the first; everything else in the text is
left as it is, so two reasons that still differ after it differ in substance.
"""

from __future__ import annotations

import re

# The role list runs to the first `]`: role names in these messages are plain names.
_ROLES_CLAUSE = re.compile(
    r"(?P<head>^action \[[^\]]*\] is unauthorized for user \[[^\]]*\] )"
    r"with (?:roles \[(?P<plain>[^\]]*)\]"
    r"|effective roles \[(?P<effective>[^\]]*)\]"
    r"|declared roles \[(?P<declared>[^\]]*)\] \(all resolved\))"
    r"(?P<tail>,.*)$",
    re.DOTALL,
)


def canonical_403_reason(reason: str) -> str:
    """`reason` with its roles clause in the `with roles [R]` form (unchanged if it has none)."""
    m = _ROLES_CLAUSE.match(reason)
    if m is None:
        return reason
    roles = next(g for g in (m["plain"], m["effective"], m["declared"]) if g is not None)
    return f"{m['head']}with roles [{roles}]{m['tail']}"


def same_403_reason(expected: str, actual: str) -> bool:
    """True when the two reasons differ only in how the roles clause is worded."""
    return canonical_403_reason(expected) == canonical_403_reason(actual)
