"""Requests built from the rest-api-spec files: path, method, query, body."""

import json

import pytest

from yamlrunner.cases import api_specs
from yamlrunner.spec import ParamError, RequestBuilder, UnknownApiError


@pytest.fixture(scope="module")
def builder() -> RequestBuilder:
    return RequestBuilder(api_specs())


def test_create_api_key_uses_a_body_method(builder):
    req = builder.build("security.create_api_key", {"body": {"name": "k"}, "refresh": True})
    assert req.method in ("PUT", "POST")
    assert req.path == "/_security/api_key"
    assert req.query == [("refresh", "true")]
    assert json.loads(req.body) == {"name": "k"}
    assert req.content_type == "application/json"


def test_body_given_as_text_is_sent_as_is(builder):
    req = builder.build("security.invalidate_api_key", {"body": '{"ids": ["a"]}'})
    assert (req.method, req.body) == ("DELETE", b'{"ids": ["a"]}')


@pytest.mark.parametrize(
    "args, method",
    [({}, "GET"), ({"body": {"query": {"match_all": {}}}}, "POST")],
)
def test_get_or_post_depends_on_the_body(builder, args, method):
    req = builder.build("security.query_api_keys", args)
    assert (req.method, req.path) == (method, "/_security/_query/api_key")


def test_query_api_key_is_an_alias_of_query_api_keys(builder):
    req = builder.build("security.query_api_key", {"body": {}})
    assert req.path == "/_security/_query/api_key"


@pytest.mark.parametrize(
    "args, path",
    [
        ({"user": None, "body": {"cluster": ["all"]}}, "/_security/user/_has_privileges"),
        ({"user": "bob", "body": {"cluster": ["all"]}}, "/_security/user/bob/_has_privileges"),
    ],
)
def test_has_privileges_path_follows_the_given_parts(builder, args, path):
    req = builder.build("security.has_privileges", args)
    assert (req.method, req.path) == ("POST", path)


@pytest.mark.parametrize(
    "args, path",
    [
        ({}, "/_security/privilege"),
        ({"application": "myapp"}, "/_security/privilege/myapp"),
        ({"application": "myapp", "name": "read,write"}, "/_security/privilege/myapp/read,write"),
    ],
)
def test_most_specific_path_wins(builder, args, path):
    assert builder.build("security.get_privileges", args).path == path


def test_path_parts_are_encoded_and_lists_joined(builder):
    req = builder.build("security.clear_api_key_cache", {"ids": ["a b", "c/d"]})
    assert (req.method, req.path) == ("POST", "/_security/api_key/a%20b,c%2Fd/_clear_cache")
    assert builder.build("security.clear_api_key_cache", {"ids": "*"}).path == (
        "/_security/api_key/*/_clear_cache"
    )


def test_query_params_render_like_elasticsearch(builder):
    req = builder.build(
        "security.get_api_key", {"id": "x", "owner": True, "active_only": False, "pretty": True}
    )
    assert req.method == "GET" and req.body is None
    assert req.query == [("id", "x"), ("owner", "true"), ("active_only", "false"), ("pretty", "true")]
    assert req.target == "/_security/api_key?id=x&owner=true&active_only=false&pretty=true"


def test_client_only_args_and_nulls_are_dropped(builder):
    req = builder.build("security.delete_role", {"name": "r", "ignore": 404, "x": None})
    assert (req.method, req.path, req.query) == ("DELETE", "/_security/role/r", [])


@pytest.mark.parametrize(
    "api, args",
    [
        ("security.get_api_key", {"bogus": 1}),  # unknown parameter
        ("security.update_api_key", {"body": {}}),  # missing path part
        ("security.create_api_key", {}),  # required body
        ("security.authenticate", {"body": {}}),  # takes no body
        ("security.clear_api_key_cache", {"ids": ""}),  # empty part
    ],
)
def test_param_errors(builder, api, args):
    with pytest.raises(ParamError):
        builder.build(api, args)


def test_unknown_api(builder):
    with pytest.raises(UnknownApiError):
        builder.build("security.no_such_api", {})


def test_builtin_cluster_health(builder):
    req = builder.build("cluster.health", {"wait_for_status": "yellow"})
    assert (req.method, req.target) == ("GET", "/_cluster/health?wait_for_status=yellow")
    assert builder.build("cluster.health", {"index": "a"}).path == "/_cluster/health/a"
    assert builder.build("info", {}).path == "/"
