"""Stash substitution: `$name` keeps the type, `${name}` interpolates text."""

import pytest

from yamlrunner.stash import Stash, StashError, java_text


def make_stash() -> Stash:
    stash = Stash()
    stash.set("id", "abc")
    stash.set("num", 42)
    stash.set("flag", True)
    stash.set("obj", {"a": [1, 2]})
    return stash


@pytest.mark.parametrize(
    "value, expected",
    [
        ("$id", "abc"),
        ("$num", 42),
        ("$flag", True),
        ("$obj", {"a": [1, 2]}),
        ("${num}", "42"),
        ("${flag}", "true"),
        ("ApiKey ${id}", "ApiKey abc"),
        ("/^(${id}|${num})$/", "/^(abc|42)$/"),
        ("ApiKey $id", "ApiKey $id"),  # a bare $name inside a longer string stays as written
        ("plain", "plain"),
        (7, 7),
        (None, None),
    ],
)
def test_substitute_values(value, expected):
    assert make_stash().substitute(value) == expected


def test_substitute_recurses_into_lists_and_keys():
    stash = make_stash()
    value = {"ids": ["$id", "${id}-x"], "$id": {"${num}": "$num"}}
    assert stash.substitute(value) == {"ids": ["abc", "abc-x"], "abc": {"42": 42}}


def test_body_refers_to_last_response_unless_stashed():
    stash = Stash()
    stash.last_body = {"x": 1}
    assert stash.substitute("$body") == {"x": 1}
    stash.set("body", "mine")
    assert stash.substitute("$body") == "mine"


def test_unknown_name_is_an_error():
    with pytest.raises(StashError):
        Stash().substitute("$nope")
    with pytest.raises(StashError):
        Stash().substitute("x ${nope}")


def test_json_text_is_parsed_then_substituted():
    stash = make_stash()
    text = '{"ids": [ "${id}", "$id" ], "n": "$num", "s": "${num}"}'
    assert stash.substitute_json_text(text) == {"ids": ["abc", "abc"], "n": 42, "s": "42"}


def test_json_text_with_bare_references_is_substituted_as_text():
    stash = make_stash()
    text = '{"n": $num, "o": $obj, "s": "id is $id", "f": $flag}'
    assert stash.substitute_json_text(text) == {
        "n": 42,
        "o": {"a": [1, 2]},
        "s": "id is abc",
        "f": True,
    }


def test_json_text_escapes_quotes_from_stashed_strings():
    stash = Stash()
    stash.set("q", 'say "hi"')
    stash.set("n", 1)
    assert stash.substitute_json_text('{"a": "$q", "b": $n}') == {"a": 'say "hi"', "b": 1}


@pytest.mark.parametrize(
    "value, text",
    [(True, "true"), (False, "false"), (None, "null"), (3, "3"), ([1, "a"], '[1,"a"]')],
)
def test_java_text(value, text):
    assert java_text(value) == text
