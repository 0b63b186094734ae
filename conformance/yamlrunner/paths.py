"""Dotted paths into a response body (`api_keys.0.id`, `metadata.some\\.key`, `$body`)."""

from __future__ import annotations

from typing import Any

from .stash import Stash, java_text


class _Missing:
    """Marks a path that leads nowhere (distinct from a JSON null)."""

    _instance: "_Missing | None" = None

    def __new__(cls) -> "_Missing":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()

# Picks the first key of an object, whatever it is (used for node ids in multi-node responses).
ARBITRARY_KEY = "_arbitrary_key_"


def split_path(path: str) -> list[str]:
    """Splits at unescaped dots; `\\.` is a literal dot inside one element.

    The empty path and `$body` both mean the whole body and split to no elements.
    """
    if path in ("", "$body"):
        return []
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(path):
        ch = path[i]
        if ch == "\\" and i + 1 < len(path) and path[i + 1] == ".":
            current.append(".")
            i += 2
            continue
        if ch == ".":
            parts.append("".join(current))
            current = []
            i += 1
            continue
        current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def resolve_parts(path: str, stash: Stash | None) -> list[str]:
    """Splits `path` and substitutes stash references inside each element."""
    parts = split_path(path)
    if stash is None:
        return parts
    return [java_text(stash.substitute_key(p)) for p in parts]


def lookup(body: Any, path: str, stash: Stash | None = None) -> Any:
    """The value at `path` in `body`, or `MISSING`.

    A path whose first element is a stashed object or list (`$profile.enabled`, after
    `set: {profiles.0: profile}`) walks that value instead of the body, as the clients' runners
    do.
    """
    value = body
    parts = split_path(path)
    if stash is not None and parts and parts[0].startswith("$") and parts[0] != "$body":
        name = parts[0][1:]
        if name in stash and isinstance(stash.get(name), (dict, list)):
            value = stash.get(name)
            path = path[len(parts[0]) + 1 :] if len(parts) > 1 else ""
    for part in resolve_parts(path, stash):
        if isinstance(value, dict):
            if part == ARBITRARY_KEY:
                if not value:
                    return MISSING
                value = next(iter(value.values()))
            elif part in value:
                value = value[part]
            else:
                return MISSING
        elif isinstance(value, list):
            try:
                index = int(part)
            except ValueError:
                return MISSING
            if index < 0 or index >= len(value):
                return MISSING
            value = value[index]
        else:
            return MISSING
    return value
