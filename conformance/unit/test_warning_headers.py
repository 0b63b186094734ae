"""`Warning` header checks of a `do` step (warnings, allowed_warnings and their _regex forms)."""

from __future__ import annotations

import pytest

from yamlrunner.warning_headers import (
    WarningRules,
    WarningSpecError,
    escape_and_encode,
    split_header,
)

AGENT = "299 Elasticsearch-9.1.0-0123abc"
DATE = '"Sat, 06 Dec 2026 23:00:00 GMT"'


def header(text: str, *, date: bool = False) -> str:
    return f'{AGENT} "{text}"' + (f" {DATE}" if date else "")


def rules(**lists: list[str]) -> WarningRules:
    return WarningRules.from_step(lists)


@pytest.mark.parametrize(
    "message, written",
    [
        ("plain text", "plain text"),
        ('say "hi"', 'say \\"hi\\"'),
        ("a\\b", "a\\\\b"),
        ("100%", "100%25"),
        ("tab\there", "tab\there"),
        ("new\nline", "new%0Aline"),
        ("café", "café"),  # Latin-1 letters are written as they are
        ("snow ☃", "snow %E2%98%83"),
    ],
)
def test_escape_and_encode(message, written):
    assert escape_and_encode(message) == written


def test_split_header_reads_one_or_several_folded_values():
    assert split_header(header("one")) == ["one"]
    assert split_header(header("one", date=True)) == ["one"]
    assert split_header(header("a, b") + ", " + header('c \\"d\\"', date=True)) == [
        "a, b",
        'c \\"d\\"',
    ]
    assert split_header('299 Elasticsearch-0123abc "no version"') == ["no version"]
    full_hash = "0123456789abcdef0123456789abcdef01234567"
    assert split_header(f'299 Elasticsearch-9.1.0-SNAPSHOT-{full_hash} "x"') == ["x"]


@pytest.mark.parametrize(
    "value",
    [
        "just text",
        '199 Elasticsearch-9.1.0-0123abc "wrong code"',
        '299 keyward "other agent"',
        '299 Elasticsearch-9.1.0-0123abc "unterminated',
        header("ok") + " trailing",
        header("ok") + ", ",
        f'{AGENT} "control \x01 char"',
    ],
)
def test_values_not_in_elasticsearch_format_are_unmatched(value):
    assert split_header(value) is None
    assert rules().problems([value]) and "format" in rules().problems([value])[0]


def test_no_warnings_expected_and_none_sent():
    assert rules().problems([]) == []


def test_an_unexpected_warning_fails():
    problems = rules().problems([header("[x] is deprecated")])
    assert problems == ["got unexpected warning header(s) ['[x] is deprecated']"]


def test_expected_warnings_must_all_appear():
    r = rules(warnings=["first", 'with "quotes"'])
    assert r.problems([header("first"), header('with \\"quotes\\"')]) == []
    assert r.problems([header("first")]) == [
        "did not get expected warning header(s) ['with \\\\\"quotes\\\\\"']"
    ]
    # Order does not matter; a folded header counts as its parts.
    assert r.problems([header('with \\"quotes\\"') + ", " + header("first")]) == []


def test_allowed_warnings_may_appear_or_not():
    r = rules(allowed_warnings=["maybe"])
    assert r.problems([]) == []
    assert r.problems([header("maybe"), header("maybe")]) == []
    assert r.problems([header("maybe"), header("other")]) != []


def test_regex_forms_match_the_whole_escaped_text():
    r = rules(warnings_regex=[r"index \[\w+\] is deprecated"])
    assert r.problems([header("index [logs] is deprecated")]) == []
    assert r.problems([header("the index [logs] is deprecated")]) != []  # not a full match
    assert r.problems([]) == [
        "no warning header matched the pattern(s) ['index \\\\[\\\\w+\\\\] is deprecated']"
    ]
    r = rules(warnings_regex=[r'say \\"\w+\\"'])
    assert r.problems([header('say \\"hi\\"')]) == []
    r = rules(allowed_warnings_regex=["dep.*"])
    assert r.problems([]) == []
    assert r.problems([header("deprecated thing")]) == []
    assert r.problems([header("other")]) != []


def test_xcontent_position_is_ignored():
    r = rules(warnings=["Deprecated field [x] used"])
    assert r.problems([header("[request][1:5] Deprecated field [x] used")]) == []


@pytest.mark.parametrize(
    "lists",
    [
        {"warnings": "not a list"},
        {"allowed_warnings": [1]},
        {"warnings": ["a"], "allowed_warnings": ["a"]},
        {"warnings_regex": ["a.*"], "allowed_warnings_regex": ["a.*"]},
        {"warnings_regex": ["("]},
    ],
)
def test_malformed_lists_are_refused(lists):
    with pytest.raises(WarningSpecError):
        WarningRules.from_step(lists)
