"""Dotted paths into response bodies."""

import pytest

from yamlrunner.paths import MISSING, lookup, split_path
from yamlrunner.stash import Stash

BODY = {
    "api_keys": [{"id": "k1", "metadata": {"some.key": "dotted", "n": {"0": "zero"}}}],
    "nodes": {"node-xyz": {"name": "n1"}},
    "empty": None,
}


@pytest.mark.parametrize(
    "path, parts",
    [
        ("a.b.c", ["a", "b", "c"]),
        ("metadata.some\\.key", ["metadata", "some.key"]),
        ("a\\.b\\.c", ["a.b.c"]),
        ("api_keys.0.id", ["api_keys", "0", "id"]),
        ("", []),
        ("$body", []),
    ],
)
def test_split_path(path, parts):
    assert split_path(path) == parts


@pytest.mark.parametrize(
    "path, value",
    [
        ("api_keys.0.id", "k1"),
        ("api_keys.0.metadata.some\\.key", "dotted"),
        ("api_keys.0.metadata.n.0", "zero"),  # a number is a key inside an object
        ("api_keys.1.id", MISSING),
        ("api_keys.x", MISSING),
        ("api_keys.-1", MISSING),
        ("nope", MISSING),
        ("api_keys.0.id.deeper", MISSING),
        ("empty", None),
        ("nodes._arbitrary_key_.name", "n1"),
        ("", BODY),
        ("$body", BODY),
    ],
)
def test_lookup(path, value):
    found = lookup(BODY, path)
    if value is MISSING:
        assert found is MISSING
    else:
        assert found == value


def test_lookup_substitutes_stash_in_elements():
    stash = Stash()
    stash.set("node", "node-xyz")
    stash.set("i", 0)
    assert lookup(BODY, "nodes.$node.name", stash) == "n1"
    assert lookup(BODY, "nodes.${node}.name", stash) == "n1"
    assert lookup(BODY, "api_keys.$i.id", stash) == "k1"


def test_lookup_walks_a_stashed_object():
    stash = Stash()
    stash.set("profile", {"enabled": False, "user": {"roles": ["r"]}})
    stash.set("name", "api_keys")
    assert lookup(BODY, "$profile.enabled", stash) is False
    assert lookup(BODY, "$profile.user.roles.0", stash) == "r"
    assert lookup(BODY, "$profile", stash) == {"enabled": False, "user": {"roles": ["r"]}}
    assert lookup(BODY, "$profile.missing", stash) is MISSING
    # A stashed string is still a key of the body.
    assert lookup(BODY, "$name.0.id", stash) == "k1"


def test_missing_is_falsy_and_not_none():
    assert not MISSING
    assert MISSING is not None
