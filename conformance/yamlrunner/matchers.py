"""Value comparison for `match`, `is_true`/`is_false`, `gt`/`lt`…, `contains`.

Semantics follow the YAML test format as Elasticsearch's runner applies it:

* `match` compares exactly (objects must have the same keys, arrays the same length and order);
  numbers compare by value whatever their JSON type (`5` equals `5.0`), but a boolean never equals
  a number and a string never equals a number;
* an expected string written `/.../` is a regular expression searched in the actual value's text,
  in "comments" mode: whitespace in the pattern is ignored and `#` starts a comment;
* `is_true` fails for a missing value, null, `false`, `"false"`, `""` and `0`.
"""

from __future__ import annotations

import re
from typing import Any

from .paths import MISSING
from .stash import java_text


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def values_equal(expected: Any, actual: Any) -> bool:
    return first_difference(expected, actual) is None


def first_difference(expected: Any, actual: Any, where: str = "") -> str | None:
    """None when equal, else a short description of the first place they differ."""
    at = f" at [{where}]" if where else ""
    if actual is MISSING:
        return f"missing{at}, expected {describe(expected)}"
    if isinstance(expected, bool) or isinstance(actual, bool):
        if isinstance(expected, bool) and isinstance(actual, bool) and expected == actual:
            return None
        return f"expected {describe(expected)}, got {describe(actual)}{at}"
    if is_number(expected) and is_number(actual):
        if expected == actual:
            return None
        return f"expected {describe(expected)}, got {describe(actual)}{at}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"expected an object, got {describe(actual)}{at}"
        missing = [k for k in expected if k not in actual]
        if missing:
            return f"missing key(s) {missing}{at}"
        extra = [k for k in actual if k not in expected]
        if extra:
            return f"unexpected key(s) {extra}{at}"
        for key, value in expected.items():
            diff = first_difference(value, actual[key], f"{where}.{key}" if where else str(key))
            if diff:
                return diff
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"expected an array, got {describe(actual)}{at}"
        if len(expected) != len(actual):
            return (
                f"expected an array of {len(expected)}, got {len(actual)}{at}: {describe(actual)}"
            )
        for i, (e, a) in enumerate(zip(expected, actual)):
            diff = first_difference(e, a, f"{where}.{i}" if where else str(i))
            if diff:
                return diff
        return None
    if expected is None:
        return None if actual is None else f"expected null, got {describe(actual)}{at}"
    if type(expected) is type(actual) and expected == actual:
        return None
    return f"expected {describe(expected)}, got {describe(actual)}{at}"


def describe(value: Any, limit: int = 300) -> str:
    if value is MISSING:
        return "<missing>"
    if isinstance(value, str):
        text = repr(value)
    else:
        text = java_text(value)
    if len(text) > limit:
        text = text[:limit] + "…"
    return text


# -- regular expressions --------------------------------------------------------------------


def regex_literal(expected: Any) -> str | None:
    """The pattern of an expected value written `/.../`, else None."""
    if not isinstance(expected, str):
        return None
    text = expected.strip()
    if len(text) > 2 and text.startswith("/") and text.endswith("/"):
        return text[1:-1]
    return None


def comments_mode_pattern(pattern: str) -> str:
    """Rewrites a comments-mode (x-flag) pattern into an equivalent plain Python pattern.

    Like Java's COMMENTS flag (which the YAML tests were written for), unescaped whitespace is
    dropped everywhere, character classes included, and an unescaped `#` outside a class starts a
    comment running to the end of the line. Escaped characters are kept as written.
    """
    out: list[str] = []
    in_class = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if ch.isspace():
            i += 1
            continue
        if ch == "#" and not in_class:
            while i < len(pattern) and pattern[i] not in "\r\n":
                i += 1
            continue
        if ch == "[" and not in_class:
            in_class = True
            out.append(ch)
            i += 1
            # A `]` (after an optional `^`) right at the start of a class is a literal.
            if i < len(pattern) and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < len(pattern) and pattern[i] == "]":
                out.append("\\]")
                i += 1
            continue
        if ch == "]" and in_class:
            in_class = False
        out.append(ch)
        i += 1
    return "".join(out)


def regex_search(pattern: str, actual: Any) -> bool:
    """True when the comments-mode `pattern` is found in the text of `actual`."""
    if actual is MISSING or actual is None:
        return False
    return re.search(comments_mode_pattern(pattern), java_text(actual)) is not None


# -- truthiness and ordering ----------------------------------------------------------------


def is_truthy(actual: Any) -> bool:
    if actual is MISSING or actual is None:
        return False
    text = java_text(actual)
    return text != "" and text.lower() != "false" and text != "0"


def compare(op: str, actual: Any, expected: Any) -> bool:
    """`gt`, `gte`, `lt`, `lte` between two numbers or two strings."""
    comparable = (is_number(actual) and is_number(expected)) or (
        isinstance(actual, str) and isinstance(expected, str)
    )
    if not comparable:
        raise TypeError(f"cannot compare {describe(actual)} with {describe(expected)}")
    if op == "gt":
        return actual > expected
    if op == "gte":
        return actual >= expected
    if op == "lt":
        return actual < expected
    if op == "lte":
        return actual <= expected
    raise ValueError(op)


def contains(actual: Any, expected: Any) -> bool:
    """An array holding `expected`; an expected object matches an element holding its fields."""
    if isinstance(actual, list):
        for item in actual:
            if isinstance(expected, dict) and isinstance(item, dict):
                if all(k in item and values_equal(v, item[k]) for k, v in expected.items()):
                    return True
            elif values_equal(expected, item):
                return True
        return False
    if isinstance(actual, str) and isinstance(expected, str):
        return expected in actual
    if isinstance(actual, dict) and isinstance(expected, dict):
        return all(k in actual and values_equal(v, actual[k]) for k, v in expected.items())
    return False
