"""`warnings`, `allowed_warnings`, `warnings_regex` and `allowed_warnings_regex` of a `do` step.

The rules are those of Elasticsearch's YAML runner:

* a response's `Warning` headers are RFC 7234 values written by Elasticsearch:
  `299 Elasticsearch-<version>-<hash> "<text>"`, optionally followed by a quoted RFC 1123 date;
  a header not of that form fails the step ("unmatched");
* `<text>` is the message with `\\` and `"` escaped by a backslash and characters outside an
  HTTP quoted-string (and `%`) percent-encoded as UTF-8; a leading `[source][line:col] `
  position is dropped before comparing;
* every `warnings` entry must appear (compared after the same escaping); every `warnings_regex`
  pattern must match (whole text, against the escaped form) at least one header;
* a header neither expected nor allowed (`allowed_warnings`, or a full match of an
  `allowed_warnings_regex` pattern) fails the step;
* the same entry may not be both expected and allowed;
* only responses that are not errors are checked (a `catch` step never checks warnings).

One HTTP client may fold several `Warning` headers into one value joined by `, `; a value is
therefore read as a comma-separated list of warning values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_VERSION = r"\d+\.\d+\.\d+(?:-(?:alpha|beta|rc)\d+)?(?:-SNAPSHOT)?"
_HASH = r"(?:[a-f0-9]{7}(?:[a-f0-9]{33})?|unknown)"
_DATE = (
    r'"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} '
    r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r'\d{4} \d{2}:\d{2}:\d{2} GMT"'
)
# One warning value, its quoted text captured (a quoted-string: escaped pairs or plain chars).
_WARNING_VALUE = re.compile(
    rf'299 Elasticsearch-(?:{_VERSION}-)?{_HASH} "(?P<text>(?:[^"\\]|\\.)*)"(?: {_DATE})?',
    re.DOTALL,
)
_SEPARATOR = re.compile(r"\s*,\s*")
_XCONTENT_POSITION = re.compile(r"^\[.*?\]\[-?\d+:-?\d+\] ")

_KEYS = ("warnings", "allowed_warnings", "warnings_regex", "allowed_warnings_regex")


class WarningSpecError(ValueError):
    """The step's warning lists are malformed."""


def _qdtext_char(c: str) -> bool:
    """A character an HTTP quoted-string holds as it is (`"` and `\\` only when escaped)."""
    code = ord(c)
    return c in "\t !" or 0x23 <= code <= 0x5B or 0x5D <= code <= 0x7E or 0x80 <= code <= 0xFF


def _qdtext_ok(text: str) -> bool:
    """Every character allowed in an HTTP quoted-string (once escapes are set aside)."""
    return all(_qdtext_char(c) for c in text.replace('"', "").replace("\\", ""))


def escape_and_encode(message: str) -> str:
    """The message as Elasticsearch writes it inside the quotes of a `Warning` header."""
    escaped = message.replace("\\", "\\\\").replace('"', '\\"')
    out: list[str] = []
    for ch in escaped:
        # `%` is percent-encoded too, so that a decoder can tell it from an encoded byte.
        if ch in '\\"' or (_qdtext_char(ch) and ch != "%"):
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8", errors="surrogatepass"))
    return "".join(out)


def split_header(value: str) -> list[str] | None:
    """The texts of the warning values in one header value, or None if it is not of that form."""
    texts = []
    pos = 0
    while True:
        m = _WARNING_VALUE.match(value, pos)
        if m is None or not _qdtext_ok(m["text"]):
            return None
        texts.append(m["text"])
        pos = m.end()
        if pos == len(value):
            return texts
        sep = _SEPARATOR.match(value, pos)
        if sep is None or sep.end() == pos:
            return None
        pos = sep.end()


def warning_text(raw_text: str) -> str:
    """The quoted text of a warning value without a leading `[source][line:col] ` position."""
    m = _XCONTENT_POSITION.match(raw_text)
    return raw_text[m.end():] if m else raw_text


def _strings(modifiers: dict[str, Any], key: str) -> list[str]:
    value = modifiers.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise WarningSpecError(f"[{key}] must be a string array, got {value!r}")
    return value


@dataclass
class WarningRules:
    expected: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)
    expected_regex: list[re.Pattern[str]] = field(default_factory=list)
    allowed_regex: list[re.Pattern[str]] = field(default_factory=list)

    @classmethod
    def from_step(cls, modifiers: dict[str, Any]) -> WarningRules:
        """The rules of a `do` step's modifiers; WarningSpecError when they are malformed."""
        lists = {key: _strings(modifiers, key) for key in _KEYS}
        for text in lists["warnings"]:
            if text in lists["allowed_warnings"]:
                raise WarningSpecError(f"the warning [{text}] was both allowed and expected")
        for text in lists["warnings_regex"]:
            if text in lists["allowed_warnings_regex"]:
                raise WarningSpecError(
                    f"the warning pattern [{text}] was both allowed and expected"
                )
        try:
            expected_regex = [re.compile(p) for p in lists["warnings_regex"]]
            allowed_regex = [re.compile(p) for p in lists["allowed_warnings_regex"]]
        except re.error as exc:
            raise WarningSpecError(f"bad warning pattern: {exc}") from exc
        return cls(lists["warnings"], lists["allowed_warnings"], expected_regex, allowed_regex)

    def problems(self, header_values: list[str]) -> list[str]:
        """What is wrong with a response's `Warning` header values; empty when they conform."""
        allowed = {escape_and_encode(w) for w in self.allowed}
        expected = list(dict.fromkeys(escape_and_encode(w) for w in self.expected))
        expected_regex = list(self.expected_regex)
        unexpected: list[str] = []
        unmatched: list[str] = []
        for value in header_values:
            texts = split_header(value)
            if texts is None:
                unmatched.append(value)
                continue
            for raw in texts:
                text = warning_text(raw)
                if text in allowed:
                    continue
                if text in expected:
                    expected.remove(text)
                    continue
                hit = next((p for p in expected_regex if p.fullmatch(text)), None)
                if hit is not None:
                    expected_regex.remove(hit)
                    continue
                if any(p.fullmatch(text) for p in self.allowed_regex):
                    continue
                unexpected.append(raw)
        out = []
        if unexpected:
            out.append(f"got unexpected warning header(s) {unexpected}")
        if unmatched:
            out.append(f"got warning header(s) not in Elasticsearch's format {unmatched}")
        if expected:
            out.append(f"did not get expected warning header(s) {expected}")
        if expected_regex:
            out.append(
                "no warning header matched the pattern(s) "
                f"{[p.pattern for p in expected_regex]}"
            )
        return out
