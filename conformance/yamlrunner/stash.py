"""The stash: values saved by `set` / `transform_and_set` and substituted into later steps.

Substitution rules (those of the YAML test format):

* a string that is exactly `$name` is replaced by the stashed value itself, keeping its type
  (a number stays a number, an object stays an object);
* every `${name}` inside a string is replaced by the stashed value's text, so the result is
  always a string;
* `$body` names the body of the last response unless something was stashed under that name;
* substitution applies to values, to mapping keys, to path elements and to request bodies given
  as JSON text (see `substitute_json_text`).
"""

from __future__ import annotations

import json
import re
from typing import Any

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
_WHOLE = re.compile(rf"^\$({_NAME})$")
_EMBEDDED = re.compile(rf"\$\{{({_NAME})\}}")
# A bare `$name` inside JSON text (only used when the text is not valid JSON before substitution).
_BARE_IN_TEXT = re.compile(rf"\$({_NAME})")


class StashError(Exception):
    """A step referred to a stash entry that does not exist."""


def java_text(value: Any) -> str:
    """Renders a value as Elasticsearch's Java runner would when it turns it into text.

    Booleans are `true`/`false` and null is `null` (not Python's `True`/`None`); objects and
    arrays are rendered as compact JSON.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class Stash:
    """Named values saved by one test run (setup, test and teardown share one stash)."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self.last_body: Any = None

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def set(self, name: str, value: Any) -> None:
        self._values[name] = value

    def get(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        if name == "body":
            return self.last_body
        raise StashError(f"nothing stashed under [${name}]")

    def names(self) -> list[str]:
        return sorted(self._values)

    # -- substitution -----------------------------------------------------------------------

    def substitute(self, value: Any) -> Any:
        """Returns `value` with every stash reference replaced, recursively (keys included)."""
        if isinstance(value, str):
            return self.substitute_string(value)
        if isinstance(value, dict):
            return {self.substitute_key(k): self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        return value

    def substitute_key(self, key: Any) -> Any:
        """A mapping key: `$name` and `${name}` both give the stashed value's text."""
        if not isinstance(key, str):
            return key
        whole = _WHOLE.match(key)
        if whole:
            return java_text(self.get(whole.group(1)))
        return self.interpolate(key)

    def substitute_string(self, text: str) -> Any:
        whole = _WHOLE.match(text)
        if whole:
            return self.get(whole.group(1))
        return self.interpolate(text)

    def interpolate(self, text: str) -> str:
        """Replaces each `${name}` in `text` by the stashed value's text."""
        if "${" not in text:
            return text
        return _EMBEDDED.sub(lambda m: java_text(self.get(m.group(1))), text)

    def substitute_json_text(self, text: str) -> Any:
        """A request body given as JSON text: parse it, then substitute into the parsed value.

        Text that only becomes valid JSON after substitution (a bare `$name` standing for a
        number or an object) is substituted as text first: `${name}` by the value's text, a bare
        `$name` by its JSON rendering unless it sits inside a JSON string.
        """
        try:
            parsed = json.loads(text)
        except ValueError:
            return json.loads(self._substitute_text(text))
        return self.substitute(parsed)

    def _substitute_text(self, text: str) -> str:
        text = self.interpolate(text)
        out: list[str] = []
        in_string = False
        i = 0
        while i < len(text):
            ch = text[i]
            if in_string:
                if ch == "\\" and i + 1 < len(text):
                    out.append(text[i : i + 2])
                    i += 2
                    continue
                if ch == '"':
                    in_string = False
                    out.append(ch)
                    i += 1
                    continue
                m = _BARE_IN_TEXT.match(text, i)
                if m:
                    escaped = json.dumps(java_text(self.get(m.group(1))), ensure_ascii=False)
                    out.append(escaped[1:-1])
                    i = m.end()
                    continue
                out.append(ch)
                i += 1
                continue
            if ch == '"':
                in_string = True
                out.append(ch)
                i += 1
                continue
            m = _BARE_IN_TEXT.match(text, i)
            if m:
                out.append(json.dumps(self.get(m.group(1)), ensure_ascii=False))
                i = m.end()
                continue
            out.append(ch)
            i += 1
        return "".join(out)
