"""match / is_true / comparisons, including the comments-mode regular expressions."""

import pytest

from yamlrunner.matchers import (
    comments_mode_pattern,
    compare,
    contains,
    first_difference,
    is_truthy,
    regex_literal,
    regex_search,
    values_equal,
)
from yamlrunner.paths import MISSING


@pytest.mark.parametrize(
    "expected, actual, equal",
    [
        (5, 5, True),
        (5, 5.0, True),
        (True, True, True),
        (True, 1, False),  # a boolean never equals a number
        (1, True, False),
        (0, False, False),
        ("5", 5, False),  # nor a string a number
        ("a", "a", True),
        (None, None, True),
        (None, "x", False),
        ({"a": 1}, {"a": 1}, True),
        ({"a": 1}, {"a": 1, "b": 2}, False),  # objects compare exactly
        ({"a": 1, "b": 2}, {"a": 1}, False),
        ([1, 2], [1, 2], True),
        ([1, 2], [2, 1], False),
        ([], {}, False),
        ({"x": [{"y": True}]}, {"x": [{"y": True}]}, True),
        ("a", MISSING, False),
    ],
)
def test_values_equal(expected, actual, equal):
    assert values_equal(expected, actual) is equal


def test_first_difference_names_the_place():
    diff = first_difference({"index": {"a": {"read": True}}}, {"index": {"a": {"read": False}}})
    assert diff is not None and "index.a.read" in diff
    assert "unexpected key(s) ['b']" in first_difference({"a": 1}, {"a": 1, "b": 1})


@pytest.mark.parametrize(
    "value, pattern",
    [
        ("/abc/", "abc"),
        ("  /a b/\n", "a b"),
        ("//", None),
        ("/", None),
        ("abc", None),
        ("/abc", None),
        (5, None),
    ],
)
def test_regex_literal(value, pattern):
    assert regex_literal(value) == pattern


@pytest.mark.parametrize(
    "pattern, python",
    [
        ("^ a b $", "^ab$"),
        ("a\\ b", "a\\ b"),  # an escaped space is kept
        ("a # a comment\nb", "ab"),
        ("[a b]", "[ab]"),  # whitespace inside a class is dropped too (Java's comments mode)
        ("[#]x", "[#]x"),  # `#` inside a class is a literal
        ("[]a]", "[\\]a]"),
        ("[^]a]", "[^\\]a]"),
        ("\\#x", "\\#x"),
    ],
)
def test_comments_mode_pattern(pattern, python):
    assert comments_mode_pattern(pattern) == python


@pytest.mark.parametrize(
    "pattern, actual, found",
    [
        ("^(k1|k2)$", "k2", True),
        ("^(k1|k2)$", "k3", False),
        ("unauthorized \\s for", "action is unauthorized for user", True),
        ("^true$", True, True),  # booleans are matched as their Java text
        ("^42$", 42, True),
        ("x", None, False),
        ("x", MISSING, False),
        (
            """^ action \\s \\[cluster:admin/xpack/security/api_key/invalidate\\]
                \\s is \\s unauthorized  # the action
            """,
            "action [cluster:admin/xpack/security/api_key/invalidate] is unauthorized for user",
            True,
        ),
    ],
)
def test_regex_search(pattern, actual, found):
    assert regex_search(pattern, actual) is found


@pytest.mark.parametrize(
    "actual, truthy",
    [
        (MISSING, False),
        (None, False),
        (False, False),
        ("false", False),
        ("FALSE", False),
        ("", False),
        (0, False),
        (True, True),
        ("x", True),
        (1, True),
        ({}, True),  # an empty object still exists
        ([], True),
    ],
)
def test_is_truthy(actual, truthy):
    assert is_truthy(actual) is truthy


def test_compare():
    assert compare("gt", 2, 1)
    assert compare("gte", 1, 1)
    assert compare("lt", 1, 2.5)
    assert compare("lte", "a", "b")
    assert not compare("gt", 1, 1)
    with pytest.raises(TypeError):
        compare("gt", "1", 0)
    with pytest.raises(TypeError):
        compare("gt", True, 0)


def test_contains():
    assert contains(["a", "b"], "b")
    assert not contains(["a"], "c")
    assert contains([{"name": "x", "n": 1}], {"name": "x"})
    assert not contains([{"name": "x"}], {"name": "y"})
    assert contains("hello", "ell")
