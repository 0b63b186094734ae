"""Scenarios with the official Python client (`elasticsearch` 9.x) against a fresh keyward.

Expectations come from shared/reference/elasticsearch-api-keys.md (the § numbers below) and the
YAML tests; where keyward answers differently, the reference decides.
"""

from __future__ import annotations

import base64
import http.client
import re
import time
import urllib.parse
from typing import Any, Callable, Iterator

import pytest
from elasticsearch import ApiError, Elasticsearch

ID_RE = re.compile(r"^[A-Za-z0-9_-]{20}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{22}$")
DAY_MS = 86_400_000

ROLE_A = {"cluster": ["all"], "indices": [{"names": ["index-a"], "privileges": ["read"]}]}
# The same descriptor as get shows it (§7.3).
ROLE_A_SHOWN = {
    "cluster": ["all"],
    "indices": [{"names": ["index-a"], "privileges": ["read"], "allow_restricted_indices": False}],
    "applications": [],
    "run_as": [],
    "metadata": {},
    "transient_metadata": {"enabled": True},
}
ROLE_B = {"cluster": ["monitor"]}
ROLE_B_SHOWN = {
    "cluster": ["monitor"],
    "indices": [],
    "applications": [],
    "run_as": [],
    "metadata": {},
    "transient_metadata": {"enabled": True},
}


# -- fixtures and helpers --------------------------------------------------------------------


def make_client(url: str | list[str], **auth: Any) -> Elasticsearch:
    """A client of `url`, or of several nodes' URLs, spread round-robin."""
    return Elasticsearch(url, max_retries=0, retry_on_timeout=False, request_timeout=30, **auth)


@pytest.fixture
def es(keyward_server: Any) -> Iterator[Elasticsearch]:
    """The superuser `elastic`, by basic auth."""
    client = make_client(
        keyward_server.urls, basic_auth=(keyward_server.user, keyward_server.password)
    )
    yield client
    client.close()


@pytest.fixture
def key_client(keyward_server: Any) -> Iterator[Callable[[str], Elasticsearch]]:
    """Builds clients that authenticate with `Authorization: ApiKey <encoded>`."""
    clients: list[Elasticsearch] = []

    def build(encoded: str) -> Elasticsearch:
        client = make_client(keyward_server.urls, api_key=encoded)
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def api_error(call: Callable[[], Any]) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def check_error(err: ApiError, status: int, error_type: str, reason_part: str) -> None:
    """A full error envelope (§1.1) with this status, type, and a reason containing `reason_part`."""
    body = err.body
    assert err.meta.status == status, body
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert body.get("status") == status, body
    error = body["error"]
    assert error.get("type") == error_type, body
    assert reason_part in (error.get("reason") or ""), body
    root = error.get("root_cause")
    assert isinstance(root, list) and root and root[0].get("type"), body


def error_text(err: ApiError) -> str:
    return str(err.body)


def create(es: Elasticsearch, name: str = "my-key", **fields: Any) -> dict[str, Any]:
    return es.security.create_api_key(name=name, **fields).body


def raw_request(url: str, method: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=30)
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    response.read()
    conn.close()
    return response


# -- create (§2, §8.1) -----------------------------------------------------------------------


def test_create_returns_id_secret_and_encoded(es: Elasticsearch) -> None:
    before = now_ms()
    resp = es.security.create_api_key(
        name="my-api-key",
        expiration="1d",
        role_descriptors={"role-a": ROLE_A},
        metadata={"application": "myapp", "nested": {"n": 5}},
    )
    after = now_ms()
    key = resp.body
    assert resp.meta.status == 200
    assert set(key) == {"id", "name", "expiration", "api_key", "encoded"}
    assert ID_RE.match(key["id"]), key
    assert SECRET_RE.match(key["api_key"]), key
    assert key["name"] == "my-api-key"
    expected = base64.b64encode(f"{key['id']}:{key['api_key']}".encode()).decode()
    assert key["encoded"] == expected
    assert len(key["encoded"]) == 60 and key["encoded"].endswith("==")
    assert before + DAY_MS <= key["expiration"] <= after + DAY_MS


def test_create_without_expiration_never_expires(es: Elasticsearch) -> None:
    key = create(es, "forever")
    assert set(key) == {"id", "name", "api_key", "encoded"}
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert "expiration" not in shown


def test_each_key_gets_its_own_id_and_secret(es: Elasticsearch) -> None:
    first, second = create(es, "same-name"), create(es, "same-name")
    assert first["id"] != second["id"]
    assert first["api_key"] != second["api_key"]


def test_create_with_refresh_parameter(es: Elasticsearch) -> None:
    key = es.security.create_api_key(name="refreshed", refresh="wait_for").body
    assert ID_RE.match(key["id"])


# -- authenticating with a key (§5, §8.11) ---------------------------------------------------


def test_key_authenticates_as_its_owner(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "auth-key", role_descriptors={"role-a": ROLE_A})
    client = key_client(key["encoded"])
    health = client.cluster.health().body
    assert health["status"] in ("green", "yellow")
    me = client.security.authenticate().body
    assert me["username"] == "elastic"
    assert me["roles"] == []
    assert me["enabled"] is True
    assert me["authentication_realm"] == {"name": "_es_api_key", "type": "_es_api_key"}
    assert me["lookup_realm"] == {"name": "_es_api_key", "type": "_es_api_key"}
    assert me["authentication_type"] == "api_key"
    assert me["api_key"]["id"] == key["id"]
    assert me["api_key"]["name"] == "auth-key"
    # No secret or metadata is echoed back; 9.x may add `managed_by`.
    assert set(me["api_key"]) <= {"id", "name", "managed_by"}
    assert me["api_key"].get("managed_by", "elasticsearch") == "elasticsearch"


def test_superuser_authenticates_with_basic_auth(es: Elasticsearch) -> None:
    me = es.security.authenticate().body
    assert me["username"] == "elastic"
    assert me["enabled"] is True
    assert "api_key" not in me


def test_key_without_descriptors_can_create_only_empty_derived_keys(
    es: Elasticsearch, key_client: Any
) -> None:
    client = key_client(create(es, "parent")["encoded"])
    err = api_error(lambda: client.security.create_api_key(name="child"))
    assert err.meta.status == 400, err.body
    assert "creating derived api keys requires an explicit role descriptor that is empty" in (
        error_text(err)
    )
    child = client.security.create_api_key(name="child", role_descriptors={"none": {}}).body
    assert ID_RE.match(child["id"])


# -- get (§8.3) ------------------------------------------------------------------------------


def test_get_by_id_shows_the_key(es: Elasticsearch) -> None:
    before = now_ms()
    key = create(
        es,
        "shown-key",
        expiration="1d",
        role_descriptors={"role-a": ROLE_A},
        metadata={"string": "bean", "number": 5, "boolean": True},
    )
    after = now_ms()
    resp = es.security.get_api_key(id=key["id"])
    assert resp.meta.status == 200
    (shown,) = resp.body["api_keys"]
    assert shown["id"] == key["id"]
    assert shown["name"] == "shown-key"
    assert shown["type"] == "rest"
    assert before <= shown["creation"] <= after
    assert shown["expiration"] == key["expiration"]
    assert shown["invalidated"] is False
    assert "invalidation" not in shown
    assert shown["username"] == "elastic"
    assert isinstance(shown["realm"], str) and shown["realm"]
    assert shown["metadata"] == {"string": "bean", "number": 5, "boolean": True}
    assert shown["role_descriptors"] == {"role-a": ROLE_A_SHOWN}
    assert "limited_by" not in shown
    assert "access" not in shown


def test_get_fields_in_elasticsearch_order(es: Elasticsearch) -> None:
    key = create(es, "ordered", expiration="1d", metadata={"a": 1})
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    order = [
        "id", "name", "type", "creation", "expiration", "invalidated", "invalidation",
        "username", "realm", "realm_type", "metadata", "role_descriptors",
    ]  # fmt: skip
    present = [f for f in order if f in shown]
    assert list(shown)[: len(present)] == present


def test_key_without_descriptors_shows_empty_descriptors_and_metadata(es: Elasticsearch) -> None:
    key = create(es, "bare", role_descriptors={})
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert shown["role_descriptors"] == {}
    assert shown["metadata"] == {}


def test_get_unknown_id_is_404_with_an_empty_list(es: Elasticsearch) -> None:
    create(es, "exists")
    err = api_error(lambda: es.security.get_api_key(id="AAAAAAAAAAAAAAAAAAAA"))
    assert err.meta.status == 404
    assert err.body == {"api_keys": []}


def test_get_by_name_exact_prefix_and_all(es: Elasticsearch) -> None:
    for name in ("app-one", "app-two", "other"):
        create(es, name)

    def names(**params: Any) -> list[str]:
        return sorted(k["name"] for k in es.security.get_api_key(**params).body["api_keys"])

    assert names(name="app-one") == ["app-one"]
    assert names(name="app-*") == ["app-one", "app-two"]
    assert names(name="*") == ["app-one", "app-two", "other"]
    assert names() == ["app-one", "app-two", "other"]
    resp = es.security.get_api_key(name="nothing-like-this")
    assert resp.meta.status == 200 and resp.body == {"api_keys": []}


def test_get_by_owner_username_and_realm(es: Elasticsearch) -> None:
    ids = sorted(create(es, f"k{i}")["id"] for i in range(3))
    realm = es.security.get_api_key(id=ids[0]).body["api_keys"][0]["realm"]

    def ids_of(**params: Any) -> list[str]:
        return sorted(k["id"] for k in es.security.get_api_key(**params).body["api_keys"])

    assert ids_of(owner=True) == ids
    assert ids_of(username="elastic") == ids
    assert ids_of(realm_name=realm) == ids
    assert ids_of(username="elastic", realm_name=realm) == ids
    assert ids_of(username="somebody-else") == []
    assert ids_of(realm_name="no-such-realm") == []


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {"id": "x", "username": "elastic"},
            "username or realm name must not be specified when the api key id or api key name "
            "is specified",
        ),
        (
            {"name": "x", "realm_name": "r"},
            "username or realm name must not be specified when the api key id or api key name "
            "is specified",
        ),
        (
            {"owner": True, "username": "elastic"},
            "neither username nor realm-name may be specified when retrieving owned API keys",
        ),
        ({"id": "x", "name": "y"}, "only one of [api key id, api key name] can be specified"),
    ],
)
def test_get_rejects_conflicting_parameters(
    es: Elasticsearch, params: dict[str, Any], message: str
) -> None:
    err = api_error(lambda: es.security.get_api_key(**params))
    check_error(err, 400, "action_request_validation_exception", message)


def test_get_with_limited_by(es: Elasticsearch) -> None:
    key = create(es, "limited", role_descriptors={"role-a": ROLE_A})
    (shown,) = es.security.get_api_key(id=key["id"], with_limited_by=True).body["api_keys"]
    limited_by = shown["limited_by"]
    assert isinstance(limited_by, list) and len(limited_by) == 1
    assert isinstance(limited_by[0], dict) and limited_by[0]
    for descriptor in limited_by[0].values():
        assert "cluster" in descriptor and "indices" in descriptor
    assert shown["role_descriptors"] == {"role-a": ROLE_A_SHOWN}


def test_get_active_only(es: Elasticsearch) -> None:
    live, dead = create(es, "live")["id"], create(es, "dead")["id"]
    before = now_ms()
    es.security.invalidate_api_key(ids=[dead])
    after = now_ms()
    everything = {k["id"]: k for k in es.security.get_api_key().body["api_keys"]}
    assert set(everything) == {live, dead}
    assert everything[dead]["invalidated"] is True
    assert before <= everything[dead]["invalidation"] <= after
    active = es.security.get_api_key(active_only=True).body["api_keys"]
    assert [k["id"] for k in active] == [live]
    err = api_error(lambda: es.security.get_api_key(id=dead, active_only=True))
    assert (err.meta.status, err.body) == (404, {"api_keys": []})


def test_key_reads_its_own_info(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "self-reader", role_descriptors={"role-a": ROLE_A})
    client = key_client(key["encoded"])
    (shown,) = client.security.get_api_key(id=key["id"]).body["api_keys"]
    assert (shown["id"], shown["name"], shown["username"]) == (key["id"], "self-reader", "elastic")


# -- invalidate (§8.5) -----------------------------------------------------------------------


def test_invalidate_by_ids_then_again(es: Elasticsearch) -> None:
    a, b, c = (create(es, f"k{i}")["id"] for i in range(3))
    resp = es.security.invalidate_api_key(ids=[a, b]).body
    assert sorted(resp["invalidated_api_keys"]) == sorted([a, b])
    assert resp["previously_invalidated_api_keys"] == []
    assert resp["error_count"] == 0
    assert "error_details" not in resp
    again = es.security.invalidate_api_key(ids=[a, b]).body
    assert again == {
        "invalidated_api_keys": [],
        "previously_invalidated_api_keys": [],
        "error_count": 0,
    }
    (still,) = es.security.get_api_key(id=c).body["api_keys"]
    assert still["invalidated"] is False


def test_invalidate_response_field_order(es: Elasticsearch) -> None:
    key = create(es, "k")["id"]
    resp = es.security.invalidate_api_key(ids=[key]).body
    assert list(resp) == ["invalidated_api_keys", "previously_invalidated_api_keys", "error_count"]


def test_invalidate_unknown_id_is_not_an_error(es: Elasticsearch) -> None:
    resp = es.security.invalidate_api_key(ids=["AAAAAAAAAAAAAAAAAAAA"]).body
    assert resp["invalidated_api_keys"] == [] and resp["error_count"] == 0


def test_invalidate_by_name(es: Elasticsearch) -> None:
    twins = sorted(create(es, "twin")["id"] for _ in range(2))
    other = create(es, "other")["id"]
    resp = es.security.invalidate_api_key(name="twin").body
    assert sorted(resp["invalidated_api_keys"]) == twins
    (shown,) = es.security.get_api_key(id=other).body["api_keys"]
    assert shown["invalidated"] is False


def test_invalidate_by_owner(es: Elasticsearch) -> None:
    ids = sorted(create(es, f"k{i}")["id"] for i in range(2))
    resp = es.security.invalidate_api_key(owner=True).body
    assert sorted(resp["invalidated_api_keys"]) == ids


def test_invalidate_by_username(es: Elasticsearch) -> None:
    ids = sorted(create(es, f"k{i}")["id"] for i in range(2))
    assert es.security.invalidate_api_key(username="nobody").body["invalidated_api_keys"] == []
    resp = es.security.invalidate_api_key(username="elastic").body
    assert sorted(resp["invalidated_api_keys"]) == ids


def test_invalidate_by_realm_name(es: Elasticsearch) -> None:
    ids = sorted(create(es, f"k{i}")["id"] for i in range(2))
    realm = es.security.get_api_key(id=ids[0]).body["api_keys"][0]["realm"]
    resp = es.security.invalidate_api_key(realm_name=realm).body
    assert sorted(resp["invalidated_api_keys"]) == ids


@pytest.mark.parametrize(
    "params, message",
    [
        (
            {},
            "One of [api key id(s), api key name, username, realm name] must be specified if "
            "[owner] flag is false",
        ),
        (
            {"ids": ["x"], "username": "elastic"},
            "username or realm name must not be specified when the api key id(s) or api key name "
            "are specified",
        ),
        (
            {"owner": True, "realm_name": "r"},
            "neither username nor realm-name may be specified when invalidating owned API keys",
        ),
        (
            {"ids": ["x"], "name": "y"},
            "only one of [api key id(s), api key name] can be specified",
        ),
    ],
)
def test_invalidate_rejects_bad_criteria(
    es: Elasticsearch, params: dict[str, Any], message: str
) -> None:
    err = api_error(lambda: es.security.invalidate_api_key(**params))
    check_error(err, 400, "action_request_validation_exception", message)


def test_invalidate_rejects_empty_ids(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.invalidate_api_key(ids=[]))
    assert err.meta.status == 400, err.body
    assert "Field [ids] cannot be an empty array" in error_text(err)


# -- a key that no longer authenticates (§1.2) -----------------------------------------------


CHALLENGES = ['Basic realm="security"', 'Bearer realm="security"', "ApiKey"]
GENERIC_401 = (
    "unable to authenticate with provided credentials and anonymous access is not allowed for "
    "this request"
)


def check_401(err: ApiError, detail: str) -> None:
    check_error(err, 401, "security_exception", GENERIC_401)
    error = err.body["error"]
    assert error.get("additional_unsuccessful_credentials") == f"API key: {detail}", err.body
    shown = error.get("header", {}).get("WWW-Authenticate")
    assert isinstance(shown, list) and len(shown) == 3, err.body
    for challenge, value in zip(CHALLENGES, shown):
        assert value.startswith(challenge), shown
    sent = err.meta.headers.get("WWW-Authenticate") or ""
    for challenge in CHALLENGES:
        assert challenge in sent, sent


def test_invalidated_key_is_refused_with_401(es: Elasticsearch, key_client: Any, keyward_server: Any) -> None:
    key = create(es, "doomed")
    client = key_client(key["encoded"])
    assert client.security.authenticate().body["api_key"]["id"] == key["id"]
    es.security.invalidate_api_key(ids=[key["id"]])
    err = api_error(lambda: client.security.authenticate())
    check_401(err, f"api key [{key['id']}] has been invalidated")
    # Three separate WWW-Authenticate header lines, not one folded line.
    raw = raw_request(
        keyward_server.url, "GET", "/_security/_authenticate",
        {"Authorization": f"ApiKey {key['encoded']}"},
    )  # fmt: skip
    assert raw.status == 401
    lines = [v for k, v in raw.getheaders() if k.lower() == "www-authenticate"]
    assert len(lines) == 3 and all(v.startswith(c) for c, v in zip(CHALLENGES, lines)), lines


def test_wrong_secret_is_refused(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "k")
    wrong = base64.b64encode(f"{key['id']}:{'x' * 22}".encode()).decode()
    err = api_error(lambda: key_client(wrong).security.authenticate())
    check_401(err, f"invalid credentials for API key [{key['id']}]")


def test_unknown_key_id_is_refused(es: Elasticsearch, key_client: Any) -> None:
    unknown = base64.b64encode(f"AAAAAAAAAAAAAAAAAAAA:{'x' * 22}".encode()).decode()
    err = api_error(lambda: key_client(unknown).security.authenticate())
    check_401(err, "unable to find apikey with id AAAAAAAAAAAAAAAAAAAA")


def test_expired_key_is_refused(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "short-lived", expiration="1s")
    client = key_client(key["encoded"])
    deadline = time.monotonic() + 10
    while True:  # poll until the expiry instant has passed (it is whole seconds from creation)
        try:
            client.security.authenticate()
        except ApiError as err:
            check_401(err, "api key is expired")
            break
        assert time.monotonic() < deadline, "key still authenticates 10s after a 1s expiration"
        time.sleep(0.1)


def test_missing_credentials(keyward_server: Any) -> None:
    client = make_client(keyward_server.urls)
    try:
        err = api_error(lambda: client.security.authenticate())
    finally:
        client.close()
    check_error(
        err,
        401,
        "security_exception",
        "missing authentication credentials for REST request [/_security/_authenticate]",
    )


def test_wrong_password(keyward_server: Any) -> None:
    client = make_client(keyward_server.urls, basic_auth=("elastic", "not-the-password"))
    try:
        err = api_error(lambda: client.security.authenticate())
    finally:
        client.close()
    assert err.meta.status == 401
    assert err.body["error"]["type"] == "security_exception"


# -- update (§8.6) ---------------------------------------------------------------------------


def test_update_descriptors_and_metadata(es: Elasticsearch) -> None:
    key = create(es, "upd", role_descriptors={"role-a": ROLE_A}, metadata={"step": 1})
    resp = es.security.update_api_key(
        id=key["id"], role_descriptors={"role-b": ROLE_B}, metadata={"step": 2}
    )
    assert resp.body == {"updated": True}
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert shown["metadata"] == {"step": 2}
    assert shown["role_descriptors"] == {"role-b": ROLE_B_SHOWN}
    # The same values again, or nothing at all, change nothing.
    again = es.security.update_api_key(
        id=key["id"], role_descriptors={"role-b": ROLE_B}, metadata={"step": 2}
    )
    assert again.body == {"updated": False}
    assert es.security.update_api_key(id=key["id"]).body == {"updated": False}


def test_update_metadata_only_keeps_descriptors(es: Elasticsearch) -> None:
    key = create(es, "upd", role_descriptors={"role-a": ROLE_A}, metadata={"a": 1})
    assert es.security.update_api_key(id=key["id"], metadata={"b": 2}).body == {"updated": True}
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert shown["metadata"] == {"b": 2}  # replaced, not merged
    assert shown["role_descriptors"] == {"role-a": ROLE_A_SHOWN}


def test_update_with_empty_fields_clears_them(es: Elasticsearch) -> None:
    key = create(es, "upd", role_descriptors={"role-a": ROLE_A}, metadata={"a": 1})
    resp = es.security.update_api_key(id=key["id"], role_descriptors={}, metadata={})
    assert resp.body == {"updated": True}
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert shown["metadata"] == {} and shown["role_descriptors"] == {}


def test_update_expiration(es: Elasticsearch) -> None:
    key = create(es, "upd", expiration="1d")
    before = now_ms()
    assert es.security.update_api_key(id=key["id"], expiration="2d").body == {"updated": True}
    after = now_ms()
    (shown,) = es.security.get_api_key(id=key["id"]).body["api_keys"]
    assert before + 2 * DAY_MS <= shown["expiration"] <= after + 2 * DAY_MS


@pytest.mark.parametrize("expiration", ["0", "-1", "0s"])
def test_update_rejects_non_positive_expiration(es: Elasticsearch, expiration: str) -> None:
    key = create(es, "upd")
    err = api_error(lambda: es.security.update_api_key(id=key["id"], expiration=expiration))
    check_error(
        err, 400, "action_request_validation_exception", "API key expiration must be in the future"
    )


def test_update_unknown_key_is_404(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.update_api_key(id="AAAAAAAAAAAAAAAAAAAA", metadata={}))
    check_error(
        err,
        404,
        "resource_not_found_exception",
        "no API key owned by requesting user found for ID [AAAAAAAAAAAAAAAAAAAA]",
    )


def test_update_invalidated_key_is_400(es: Elasticsearch) -> None:
    key = create(es, "upd")
    es.security.invalidate_api_key(ids=[key["id"]])
    err = api_error(lambda: es.security.update_api_key(id=key["id"], metadata={"a": 1}))
    check_error(
        err, 400, "illegal_argument_exception", f"cannot update invalidated API key [{key['id']}]"
    )


def test_a_key_cannot_update_keys(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "self")
    client = key_client(key["encoded"])
    err = api_error(lambda: client.security.update_api_key(id=key["id"], metadata={"a": 1}))
    assert err.meta.status == 400, err.body
    assert (
        "authentication via API key not supported: only the owner user can update an API key"
        in error_text(err)
    )


# -- bulk update (§8.7) ----------------------------------------------------------------------


def test_bulk_update(es: Elasticsearch) -> None:
    a = create(es, "a", metadata={"k": "a"})["id"]
    b = create(es, "b", metadata={"k": "b"})["id"]
    resp = es.security.bulk_update_api_keys(ids=[a, b], metadata={"k": "new"}).body
    assert resp == {"updated": [a, b], "noops": []}
    again = es.security.bulk_update_api_keys(ids=[a, b], metadata={"k": "new"}).body
    assert again == {"updated": [], "noops": [a, b]}
    for key_id in (a, b):
        (shown,) = es.security.get_api_key(id=key_id).body["api_keys"]
        assert shown["metadata"] == {"k": "new"}


def test_bulk_update_reports_errors_per_key(es: Elasticsearch) -> None:
    changed = create(es, "changed")["id"]
    same = create(es, "same", metadata={"x": 1})["id"]
    dead = create(es, "dead")["id"]
    es.security.invalidate_api_key(ids=[dead])
    unknown = "AAAAAAAAAAAAAAAAAAAA"
    resp = es.security.bulk_update_api_keys(
        ids=[changed, same, unknown, dead], metadata={"x": 1}
    ).body
    assert resp["updated"] == [changed]
    assert resp["noops"] == [same]
    errors = resp["errors"]
    assert errors["count"] == 2
    assert set(errors["details"]) == {unknown, dead}
    assert errors["details"][unknown]["type"] == "resource_not_found_exception"
    assert errors["details"][unknown]["reason"] == (
        f"no API key owned by requesting user found for ID [{unknown}]"
    )
    assert errors["details"][dead]["type"] == "illegal_argument_exception"
    assert errors["details"][dead]["reason"] == f"cannot update invalidated API key [{dead}]"


def test_bulk_update_rejects_empty_ids(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.bulk_update_api_keys(ids=[]))
    assert err.meta.status == 400, err.body
    assert "Field [ids] cannot be empty" in error_text(err)


# -- clear cache (§8.10) ---------------------------------------------------------------------


def test_clear_api_key_cache(es: Elasticsearch, key_client: Any) -> None:
    key = create(es, "cached")
    client = key_client(key["encoded"])
    client.security.authenticate()
    for ids in (key["id"], "*", [key["id"], "AAAAAAAAAAAAAAAAAAAA"]):
        body = es.security.clear_api_key_cache(ids=ids).body
        nodes = body["_nodes"]
        assert nodes["failed"] == 0
        assert nodes["total"] == nodes["successful"] >= 1
        assert isinstance(body["cluster_name"], str) and body["cluster_name"]
        assert isinstance(body["nodes"], dict) and len(body["nodes"]) == nodes["total"]
        for node in body["nodes"].values():
            assert "name" in node
    # The key still works once its cache entry is gone.
    assert client.security.authenticate().body["api_key"]["id"] == key["id"]


# -- request validation (§1.4, §7.2, §8.1) ---------------------------------------------------


def test_unknown_field_is_x_content_parse_exception(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.create_api_key(body={"name": "k", "bogus": 1}))
    check_error(err, 400, "x_content_parse_exception", "unknown field [bogus]")


@pytest.mark.parametrize(
    "name, message",
    [
        ("_hidden", "api key name may not begin with an underscore"),
        (" padded", "api key name may not begin or end with whitespace"),
        ("padded ", "api key name may not begin or end with whitespace"),
        ("x" * 257, "api key name may not be more than 256 characters long"),
        ("", "api key name is required"),
    ],
)
def test_invalid_names(es: Elasticsearch, name: str, message: str) -> None:
    err = api_error(lambda: es.security.create_api_key(name=name))
    check_error(err, 400, "action_request_validation_exception", message)
    assert err.body["error"]["reason"].startswith("Validation Failed: 1: "), err.body


def test_name_of_256_characters_is_fine(es: Elasticsearch) -> None:
    assert create(es, "x" * 256)["name"] == "x" * 256


def test_metadata_keys_may_not_start_with_underscore(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.create_api_key(name="k", metadata={"_x": 1}))
    check_error(
        err, 400, "action_request_validation_exception", "API key metadata keys may not start with [_]"
    )


def test_unknown_cluster_privilege(es: Elasticsearch) -> None:
    err = api_error(
        lambda: es.security.create_api_key(
            name="k", role_descriptors={"r": {"cluster": ["not_a_privilege"]}}
        )
    )
    check_error(
        err,
        400,
        "action_request_validation_exception",
        "unknown cluster privilege [not_a_privilege]. a privilege must be either one of the "
        "predefined cluster privilege names [",
    )


def test_unknown_index_privilege(es: Elasticsearch) -> None:
    err = api_error(
        lambda: es.security.create_api_key(
            name="k",
            role_descriptors={"r": {"indices": [{"names": ["i"], "privileges": ["not_a_priv"]}]}},
        )
    )
    assert err.meta.status == 400, err.body
    assert "unknown index privilege [not_a_priv]" in error_text(err)


def test_description_is_not_allowed_in_key_descriptors(es: Elasticsearch) -> None:
    err = api_error(
        lambda: es.security.create_api_key(
            name="k", role_descriptors={"r": {"cluster": [], "description": "d"}}
        )
    )
    assert err.meta.status == 400, err.body
    assert "failed to parse role [r]. unexpected field [description]" in error_text(err)


@pytest.mark.parametrize("expiration", ["1.5d", "1w", "10", "soon"])
def test_bad_expiration(es: Elasticsearch, expiration: str) -> None:
    err = api_error(lambda: es.security.create_api_key(name="k", expiration=expiration))
    assert err.meta.status == 400, err.body
    assert "failed to parse" in error_text(err)


# -- cluster-level APIs the clients need -----------------------------------------------------


def test_info_and_health(es: Elasticsearch) -> None:
    info = es.info().body
    assert info["version"]["number"].startswith("9.")
    health = es.cluster.health().body
    assert health["status"] in ("green", "yellow")
    assert isinstance(health["cluster_name"], str)


# -- users, roles and application privileges (YAML clients-tests/security) --------------------


def test_put_get_and_delete_user(es: Elasticsearch, keyward_server: Any) -> None:
    created = es.security.put_user(
        username="joe",
        password="s3krit-password",
        roles=["superuser"],
        full_name="Joe Doe",
        email="joe@example.com",
        metadata={"team": "a"},
        refresh="wait_for",
    ).body
    assert created == {"created": True}
    assert es.security.put_user(username="joe", roles=["superuser"], full_name="Joe").body == {
        "created": False
    }
    joe = es.security.get_user(username="joe").body["joe"]
    assert joe["username"] == "joe"
    assert joe["roles"] == ["superuser"]
    assert joe["full_name"] == "Joe"
    assert joe["enabled"] is True
    assert es.security.get_user().body["elastic"]["metadata"]["_reserved"] is True

    # The password survived the update without one.
    client = make_client(keyward_server.urls, basic_auth=("joe", "s3krit-password"))
    try:
        assert client.security.authenticate().body["username"] == "joe"
    finally:
        client.close()

    assert es.security.delete_user(username="joe").body == {"found": True}
    err = api_error(lambda: es.security.delete_user(username="joe"))
    assert err.meta.status == 404
    assert err.body == {"found": False}
    err = api_error(lambda: es.security.get_user(username="joe"))
    assert err.meta.status == 404
    assert err.body == {}


def test_put_user_rejects_a_short_password(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.put_user(username="eve", password="short", roles=[]))
    check_error(err, 400, "validation_exception", "passwords must be at least [6] characters long")


def test_reserved_user_cannot_be_deleted(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.delete_user(username="elastic"))
    check_error(err, 400, "illegal_argument_exception", "user [elastic] is reserved")


def test_put_get_and_delete_role(es: Elasticsearch) -> None:
    body = {"metadata": {"key1": "val1"}, "indices": [{"names": "*", "privileges": ["all"]}]}
    assert es.security.put_role(name="admin_role", **body).body == {"role": {"created": True}}
    assert es.security.put_role(name="admin_role", **body).body == {"role": {"created": False}}
    role = es.security.get_role(name="admin_role").body["admin_role"]
    assert role["metadata"] == {"key1": "val1"}
    assert role["indices"][0]["names"] == ["*"]
    assert role["indices"][0]["privileges"] == ["all"]
    assert es.security.get_role(name="superuser").body["superuser"]["cluster"] == ["all"]
    assert es.security.delete_role(name="admin_role").body == {"found": True}
    err = api_error(lambda: es.security.delete_role(name="admin_role"))
    assert err.meta.status == 404
    err = api_error(lambda: es.security.get_role(name="admin_role"))
    assert err.meta.status == 404
    assert err.body == {}


def test_put_role_rejects_an_unknown_privilege(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.put_role(name="bad", cluster=["not_a_privilege"]))
    check_error(
        err, 400, "action_request_validation_exception", "unknown cluster privilege [not_a_privilege]"
    )


def test_native_user_role_limits_its_keys(es: Elasticsearch, keyward_server: Any) -> None:
    es.security.put_role(name="key_maker", cluster=["manage_own_api_key"])
    es.security.put_user(username="maker", password="maker-password", roles=["key_maker"])
    client = make_client(keyward_server.urls, basic_auth=("maker", "maker-password"))
    try:
        key = client.security.create_api_key(name="maker-key").body
        info = client.security.get_api_key(id=key["id"], owner=True, with_limited_by=True).body
        limited_by = info["api_keys"][0]["limited_by"]
        assert list(limited_by[0]) == ["key_maker"]
        assert limited_by[0]["key_maker"]["cluster"] == ["manage_own_api_key"]
        err = api_error(lambda: client.security.put_user(username="x", password="xxxxxxxx", roles=[]))
        check_error(
            err,
            403,
            "security_exception",
            "action [cluster:admin/xpack/security/user/put] is unauthorized for user [maker]",
        )
    finally:
        client.close()


def test_put_get_and_delete_privileges(es: Elasticsearch) -> None:
    put = es.security.put_privileges(
        privileges={
            "app": {
                "p1": {"actions": ["data:read/*", "action:login"], "metadata": {"key1": "val1"}},
                "p2": {"actions": ["data:write/*"]},
            }
        }
    ).body
    assert put == {"app": {"p1": {"created": True}, "p2": {"created": True}}}
    got = es.security.get_privileges(application="app", name="p1").body
    assert got == {
        "app": {
            "p1": {
                "application": "app",
                "name": "p1",
                "actions": ["data:read/*", "action:login"],
                "metadata": {"key1": "val1"},
            }
        }
    }
    assert set(es.security.get_privileges(application="app").body["app"]) == {"p1", "p2"}
    deleted = es.security.delete_privileges(application="app", name="p1,p0").body
    assert deleted == {"app": {"p1": {"found": True}, "p0": {"found": False}}}
    err = api_error(lambda: es.security.get_privileges(application="app", name="p1"))
    assert err.meta.status == 404


# -- query (§8.4, §6.2) ----------------------------------------------------------------------


def query_seed(es: Elasticsearch) -> dict[str, str]:
    """Three keys with metadata, created in this order; returns name -> id."""
    ids = {}
    for name, expiration, metadata in [
        ("alpha-key", "10d", {"letter": "a", "number": 42}),
        ("beta-key", "1d", {"letter": "a", "number": 1}),
        ("gamma-key", "2d", {"letter": "b", "number": 42, "tags": ["x", "y"]}),
    ]:
        ids[name] = create(es, name, expiration=expiration, metadata=metadata)["id"]
    return ids


def test_query_without_body_is_match_all(es: Elasticsearch) -> None:
    query_seed(es)
    body = es.security.query_api_keys().body
    assert body["total"] == 3 and body["count"] == 3, body
    assert all("_sort" not in key and key["role_descriptors"] == {} for key in body["api_keys"])


def test_query_filters(es: Elasticsearch) -> None:
    ids = query_seed(es)
    cases = [
        ({"wildcard": {"name": "*ta-key"}}, ["beta-key"]),
        ({"term": {"metadata.number": 42}}, ["alpha-key", "gamma-key"]),
        ({"terms": {"name": ["alpha-key", "gamma-key", "nope"]}}, ["alpha-key", "gamma-key"]),
        ({"ids": {"values": [ids["beta-key"]]}}, ["beta-key"]),
        ({"prefix": {"name": "gam"}}, ["gamma-key"]),
        ({"range": {"expiration": {"lt": "now+3d"}}}, ["beta-key", "gamma-key"]),
        ({"exists": {"field": "metadata.tags"}}, ["gamma-key"]),
        ({"match": {"username": "elastic"}}, ["alpha-key", "beta-key", "gamma-key"]),
        (
            {"bool": {"filter": [{"term": {"metadata.letter": "a"}}], "must_not": [{"term": {"name": "alpha-key"}}]}},
            ["beta-key"],
        ),
        ({"simple_query_string": {"query": "gamma*", "fields": ["na*"]}}, ["gamma-key"]),
    ]
    for query, expected in cases:
        body = es.security.query_api_keys(query=query, sort=["name"]).body
        assert [key["name"] for key in body["api_keys"]] == expected, (query, body)
        assert body["total"] == len(expected)


def test_query_sort_paging_and_search_after(es: Elasticsearch) -> None:
    ids = query_seed(es)
    body = es.security.query_api_keys(sort=[{"creation": {"order": "desc"}}], from_=1, size=1).body
    assert body["total"] == 3 and body["count"] == 1
    assert body["api_keys"][0]["id"] == ids["beta-key"]
    assert body["api_keys"][0]["_sort"] == [body["api_keys"][0]["creation"]]
    seen = []
    after = None
    for _ in range(3):
        extra = {"search_after": after} if after is not None else {}
        body = es.security.query_api_keys(sort=["expiration", "name"], size=1, **extra).body
        seen.append(body["api_keys"][0]["name"])
        after = body["api_keys"][0]["_sort"]
    assert seen == ["beta-key", "gamma-key", "alpha-key"]


def test_query_by_manage_own_user_sees_own_keys(es: Elasticsearch, keyward_server: Any) -> None:
    query_seed(es)
    es.security.put_role(name="own_keys", cluster=["manage_own_api_key"])
    es.security.put_user(username="owner", password="owner-password", roles=["own_keys"])
    client = make_client(keyward_server.urls, basic_auth=("owner", "owner-password"))
    try:
        mine = client.security.create_api_key(name="mine").body
        body = client.security.query_api_keys(query={"match_all": {}}, with_limited_by=True).body
        assert [key["id"] for key in body["api_keys"]] == [mine["id"]], body
        assert list(body["api_keys"][0]["limited_by"][0]) == ["own_keys"]
    finally:
        client.close()


def test_query_aggregations(es: Elasticsearch) -> None:
    query_seed(es)
    body = es.security.query_api_keys(
        size=0,
        aggs={"names": {"composite": {"sources": [{"key_name": {"terms": {"field": "name"}}}]}}},
    ).body
    assert body["total"] == 3 and body["count"] == 0 and body["api_keys"] == []
    buckets = body["aggregations"]["names"]["buckets"]
    assert [bucket["key"]["key_name"] for bucket in buckets] == ["alpha-key", "beta-key", "gamma-key"]
    err = api_error(lambda: es.security.query_api_keys(aggs={"g": {"global": {}}}))
    check_error(err, 400, "illegal_argument_exception", "Unsupported API Keys agg [g] of type [global]")


def test_query_errors(es: Elasticsearch) -> None:
    cases = [
        ({"query": {"fuzzy": {"name": "x"}}}, "illegal_argument_exception", "Query type [fuzzy] is not currently supported in this context"),
        ({"query": {"term": {"api_key_hash": "x"}}}, "illegal_argument_exception", "Field [api_key_hash] is not allowed for querying or aggregation"),
        ({"sort": ["id"]}, "illegal_argument_exception", "Field [id] is not allowed for querying or aggregation"),
        ({"size": -1}, "action_request_validation_exception", "[size] parameter cannot be negative but was [-1]"),
    ]
    for body, error_type, reason in cases:
        err = api_error(lambda: es.perform_request(
            "POST", "/_security/_query/api_key", body=body, headers={"content-type": "application/json", "accept": "application/json"}
        ))
        check_error(err, 400, error_type, reason)


def test_query_users_and_roles(es: Elasticsearch) -> None:
    es.security.put_role(name="reader_role", cluster=["monitor"], metadata={"tier": "gold"})
    es.security.put_user(username="reader", password="reader-password", roles=["reader_role"])
    users = es.security.query_user(query={"term": {"roles": "reader_role"}}, sort=["username"]).body
    assert users["total"] == 1 and users["users"][0]["username"] == "reader", users
    assert users["users"][0]["_sort"] == ["reader"]
    roles = es.security.query_role(query={"term": {"metadata.tier": "gold"}}).body
    assert roles["total"] == 1 and roles["roles"][0]["name"] == "reader_role", roles
    assert roles["roles"][0]["cluster"] == ["monitor"]


# -- cross-cluster API keys (§8.8, §8.9, §9) -------------------------------------------------

CC_SEED_ACCESS = {"search": [{"names": ["logs*"]}], "replication": [{"names": ["archive*"]}]}
CC_SEED_METADATA = {
    "description": "phase one",
    "environment": {"level": 1, "trusted": True, "tags": ["dev", "staging"]},
}


def cc_admin(es: Elasticsearch, keyward_server: Any, username: str = "cc_admin") -> Elasticsearch:
    """A native user holding `manage_security` (the superuser would do too; the seeds use one)."""
    es.security.put_role(name=f"{username}_role", cluster=["manage_security"])
    es.security.put_user(username=username, password="cc-password", roles=[f"{username}_role"])
    return make_client(keyward_server.urls, basic_auth=(username, "cc-password"))


def test_create_cross_cluster_key_as_the_seed_does(es: Elasticsearch, keyward_server: Any) -> None:
    admin = cc_admin(es, keyward_server)
    try:
        before = now_ms()
        created = admin.security.create_cross_cluster_api_key(
            name="my-cross-cluster-api-key",
            expiration="1d",
            access=CC_SEED_ACCESS,
            metadata=CC_SEED_METADATA,
        ).body
        assert list(created) == ["id", "name", "expiration", "api_key", "encoded"]
        assert ID_RE.match(created["id"]) and SECRET_RE.match(created["api_key"])
        assert created["encoded"] == base64.b64encode(
            f"{created['id']}:{created['api_key']}".encode()
        ).decode()
        assert before + DAY_MS - 1000 <= created["expiration"] <= now_ms() + DAY_MS

        key = admin.security.get_api_key(id=created["id"], with_limited_by=True).body["api_keys"][0]
        assert key["type"] == "cross_cluster"
        assert key["username"] == "cc_admin" and key["realm"] == "default_native"
        assert key["metadata"] == CC_SEED_METADATA
        assert key["role_descriptors"] == {
            "cross_cluster": {
                "cluster": ["cross_cluster_search", "monitor_enrich", "cross_cluster_replication"],
                "indices": [
                    {
                        "names": ["logs*"],
                        "privileges": ["read", "read_cross_cluster", "view_index_metadata"],
                        "allow_restricted_indices": False,
                    },
                    {
                        "names": ["archive*"],
                        "privileges": ["cross_cluster_replication", "cross_cluster_replication_internal"],
                        "allow_restricted_indices": False,
                    },
                ],
                "applications": [],
                "run_as": [],
                "metadata": {},
                "transient_metadata": {"enabled": True},
            }
        }
        assert key["access"] == {
            "search": [{"names": ["logs*"], "allow_restricted_indices": False}],
            "replication": [{"names": ["archive*"], "allow_restricted_indices": False}],
        }
        assert "limited_by" not in key
    finally:
        admin.close()


def test_cross_cluster_key_cannot_authenticate_rest_requests(
    es: Elasticsearch, key_client: Any
) -> None:
    created = es.security.create_cross_cluster_api_key(name="cc", access=CC_SEED_ACCESS).body
    err = api_error(lambda: key_client(created["encoded"]).security.authenticate())
    check_error(
        err,
        401,
        "security_exception",
        f"authentication expected API key type of [rest], but API key [{created['id']}] has type [cross_cluster]",
    )


def test_update_cross_cluster_key_and_noop(es: Elasticsearch) -> None:
    created = es.security.create_cross_cluster_api_key(
        name="my-cc-api-key", access={"search": [{"names": ["logs*"]}]}, metadata={"tag": "dev"}
    ).body
    change = {"access": {"replication": [{"names": ["archive"]}]}, "metadata": {"tag": "prod"}}
    assert es.security.update_cross_cluster_api_key(id=created["id"], **change).body == {"updated": True}
    key = es.security.get_api_key(id=created["id"]).body["api_keys"][0]
    assert key["metadata"] == {"tag": "prod"}
    assert key["role_descriptors"]["cross_cluster"]["cluster"] == ["cross_cluster_replication"]
    assert key["access"] == {"replication": [{"names": ["archive"], "allow_restricted_indices": False}]}
    assert es.security.update_cross_cluster_api_key(id=created["id"], **change).body == {"updated": False}
    # The access get shows is valid input, and means no change.
    again = es.security.update_cross_cluster_api_key(id=created["id"], access=key["access"]).body
    assert again == {"updated": False}
    later = es.security.update_cross_cluster_api_key(id=created["id"], access=key["access"], expiration="30d")
    assert later.body == {"updated": True}


def test_cross_cluster_validation(es: Elasticsearch) -> None:
    err = api_error(lambda: es.security.create_cross_cluster_api_key(name="k", access={}))
    check_error(
        err, 400, "illegal_argument_exception",
        "must specify non-empty access for either [search] or [replication]",
    )
    err = api_error(
        lambda: es.security.create_cross_cluster_api_key(
            name="k", access={"replication": [{"names": ["logs"], "query": {"term": {"tag": 42}}}]}
        )
    )
    check_error(
        err, 400, "illegal_argument_exception",
        "replication does not support document or field level security",
    )
    err = api_error(
        lambda: es.security.create_cross_cluster_api_key(
            name="k", access={"search": [{"names": ["logs"], "privileges": ["read"]}]}
        )
    )
    check_error(err, 400, "parse_exception", "field [privileges] must not present")
    created = es.security.create_cross_cluster_api_key(name="k", access=CC_SEED_ACCESS).body
    err = api_error(lambda: es.security.update_cross_cluster_api_key(id=created["id"], access={}))
    check_error(
        err, 400, "illegal_argument_exception",
        "must specify non-empty access for either [search] or [replication]",
    )


def test_cross_cluster_and_rest_updates_refuse_each_others_keys(es: Elasticsearch) -> None:
    cc = es.security.create_cross_cluster_api_key(name="cc", access=CC_SEED_ACCESS).body
    rest = create(es, "rest")
    err = api_error(lambda: es.security.update_api_key(id=cc["id"], metadata={}))
    check_error(
        err, 400, "illegal_argument_exception",
        "cannot update API key of type [cross_cluster] while expected type is [rest]",
    )
    bulk = es.security.bulk_update_api_keys(ids=[cc["id"]]).body
    assert bulk["errors"]["count"] == 1
    assert bulk["errors"]["details"][cc["id"]]["type"] == "illegal_argument_exception"
    # The client insists on `access` here.
    err = api_error(
        lambda: es.security.update_cross_cluster_api_key(id=rest["id"], access=CC_SEED_ACCESS)
    )
    check_error(
        err, 400, "illegal_argument_exception",
        "cannot update API key of type [rest] while expected type is [cross_cluster]",
    )


def test_cross_cluster_keys_need_manage_security(es: Elasticsearch, keyward_server: Any, key_client: Any) -> None:
    es.security.put_role(name="keys_role", cluster=["manage_api_key"])
    es.security.put_user(username="keys_user", password="keys-password", roles=["keys_role"])
    keys_user = make_client(keyward_server.urls, basic_auth=("keys_user", "keys-password"))
    try:
        err = api_error(lambda: keys_user.security.create_cross_cluster_api_key(name="cc", access=CC_SEED_ACCESS))
        check_error(
            err, 403, "security_exception",
            "action [cluster:admin/xpack/security/cross_cluster/api_key/create] is unauthorized",
        )
        cc = es.security.create_cross_cluster_api_key(name="cc", access=CC_SEED_ACCESS).body
        result = keys_user.security.invalidate_api_key(ids=[cc["id"]]).body
        assert result["invalidated_api_keys"] == []
        assert result["error_count"] == 1
        assert result["error_details"][0]["type"] == "security_exception"
        assert result["error_details"][0]["reason"].startswith(
            f"Cannot invalidate cross-cluster API key [{cc['id']}]"
        )
        assert es.security.invalidate_api_key(ids=[cc["id"]]).body["invalidated_api_keys"] == [cc["id"]]
    finally:
        keys_user.close()
    rest = create(es, "rest")
    err = api_error(
        lambda: key_client(rest["encoded"]).security.create_cross_cluster_api_key(
            name="cc", access=CC_SEED_ACCESS
        )
    )
    check_error(
        err, 400, "illegal_argument_exception",
        "authentication via API key not supported: An API key cannot be used to create a cross-cluster API key",
    )


# -- has privileges, user privileges, run-as (§8.12, §8.13) ------------------------------------


def test_has_privileges_for_a_limited_key(
    es: Elasticsearch, keyward_server: Any, key_client: Any
) -> None:
    es.security.put_role(
        name="logs_a_reader",
        cluster=["manage_own_api_key"],
        indices=[{"names": ["logs-a*"], "privileges": ["read"]}],
    )
    es.security.put_user(username="logs_owner", password="owner-password", roles=["logs_a_reader"])
    owner = make_client(keyward_server.urls, basic_auth=("logs_owner", "owner-password"))
    try:
        key = owner.security.create_api_key(
            name="logs",
            role_descriptors={"r": {"indices": [{"names": ["logs-*"], "privileges": ["read"]}]}},
        ).body
    finally:
        owner.close()
    result = key_client(key["encoded"]).security.has_privileges(
        cluster=["monitor"],
        index=[{"names": ["logs-abc", "logs-b"], "privileges": ["read"]}],
    ).body
    assert result == {
        "username": "logs_owner",
        "has_all_requested": False,
        "cluster": {"monitor": False},
        "index": {"logs-abc": {"read": True}, "logs-b": {"read": False}},
        "application": {},
    }


def test_has_privileges_for_the_superuser_with_applications(es: Elasticsearch) -> None:
    es.security.put_privileges(privileges={"myapp": {"read": {"actions": ["data:read/*"]}}})
    result = es.security.has_privileges(
        cluster=["all"],
        index=[{"names": ["*"], "privileges": ["all"], "allow_restricted_indices": False}],
        application=[{"application": "myapp", "resources": ["*"], "privileges": ["read", "data:write/x"]}],
    ).body
    assert result["has_all_requested"] is True
    assert result["application"] == {"myapp": {"*": {"read": True, "data:write/x": True}}}


def test_get_user_privileges_for_a_user_and_a_scoped_key(
    es: Elasticsearch, keyward_server: Any, key_client: Any
) -> None:
    es.security.put_role(
        name="viewer_role", cluster=["monitor"], indices=[{"names": ["logs-*"], "privileges": ["read"]}]
    )
    es.security.put_user(username="viewer_user", password="viewer-password", roles=["viewer_role"])
    viewer = make_client(keyward_server.urls, basic_auth=("viewer_user", "viewer-password"))
    try:
        privileges = viewer.security.get_user_privileges().body
    finally:
        viewer.close()
    assert privileges == {
        "cluster": ["monitor"],
        "global": [],
        "indices": [{"names": ["logs-*"], "privileges": ["read"], "allow_restricted_indices": False}],
        "applications": [],
        "run_as": [],
    }
    scoped = create(es, "scoped", role_descriptors={"r": {"cluster": ["monitor"]}})
    err = api_error(lambda: key_client(scoped["encoded"]).security.get_user_privileges())
    check_error(err, 400, "illegal_argument_exception", "Cannot retrieve privileges for API keys with assigned role descriptors")


def test_run_as_header(es: Elasticsearch, keyward_server: Any) -> None:
    es.security.put_role(name="target_role", cluster=["monitor"])
    es.security.put_user(username="run_target", password="target-password", roles=["target_role"])
    me = es.options(headers={"es-security-runas-user": "run_target"}).security.authenticate().body
    assert me["username"] == "run_target"
    assert me["authentication_realm"]["name"] == "reserved"
    assert me["lookup_realm"]["name"] == "default_native"
    es.security.put_role(name="no_run_as", cluster=["monitor"])
    es.security.put_user(username="plain_user", password="plain-password", roles=["no_run_as"])
    plain = make_client(keyward_server.urls, basic_auth=("plain_user", "plain-password"))
    try:
        err = api_error(
            lambda: plain.options(headers={"es-security-runas-user": "run_target"}).security.authenticate()
        )
    finally:
        plain.close()
    check_error(err, 403, "security_exception", "because user [plain_user] is unauthorized to run as [run_target]")


# -- TLS on the HTTP port ---------------------------------------------------------------------
# keyward started with `xpack.security.http.ssl.enabled=true` and no certificate generates a CA
# and a node certificate and prints the CA's SHA-256 fingerprint once, as Elasticsearch's first
# start does; these tests use the client exactly as Elasticsearch's docs show for that case.

_FINGERPRINT = re.compile(r"HTTP CA certificate SHA-256 fingerprint:\s+([0-9a-f]{64})")


def tls_keyward(**settings: str) -> Any:
    from yamlrunner.cases import keyward_binary
    from yamlrunner.server import KeywardServer

    return KeywardServer(
        keyward_binary(), settings={"xpack.security.http.ssl.enabled": "true", **settings}
    )


def tls_client_round_trip(server: Any, **tls: Any) -> None:
    """Creates a key as `elastic` and authenticates with it, both over TLS with `tls`."""
    assert server.url.startswith("https://"), server.url
    admin = Elasticsearch(server.url, basic_auth=(server.user, server.password), max_retries=0, **tls)
    try:
        key = admin.security.create_api_key(name="over-tls").body
    finally:
        admin.close()
    keyed = Elasticsearch(server.url, api_key=key["encoded"], max_retries=0, **tls)
    try:
        assert keyed.security.authenticate().body["api_key"]["id"] == key["id"]
    finally:
        keyed.close()


def test_tls_generated_certificate_with_ssl_assert_fingerprint_and_ca_certs() -> None:
    from elasticsearch import ConnectionError as TransportConnectionError

    with tls_keyward() as server:
        match = _FINGERPRINT.search(server.log_tail(100_000))
        assert match, server.log_tail()
        fingerprint = match.group(1)
        tls_client_round_trip(server, ssl_assert_fingerprint=fingerprint)
        ca = server.data_dir / "tls" / "http_ca.crt"
        tls_client_round_trip(server, ca_certs=str(ca))
        # Another fingerprint is refused.
        wrong = Elasticsearch(
            server.url,
            basic_auth=(server.user, server.password),
            ssl_assert_fingerprint="00" * 32,
            max_retries=0,
        )
        try:
            with pytest.raises(TransportConnectionError):
                wrong.security.authenticate()
        finally:
            wrong.close()


def test_tls_mutual_with_client_cert_and_client_key(tmp_path: Any) -> None:
    import subprocess

    from elasticsearch import ConnectionError as TransportConnectionError

    with tls_keyward(**{"xpack.security.http.ssl.client_authentication": "required"}) as server:
        tls_dir = server.data_dir / "tls"
        ca, ca_key = tls_dir / "http_ca.crt", tls_dir / "http_ca.key"
        key, csr, cert = tmp_path / "client.key", tmp_path / "client.csr", tmp_path / "client.crt"
        # A client certificate signed by the generated CA, which client certificates are
        # checked against when no certificate_authorities are given.
        subprocess.run(
            ["openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", str(key), "-subj", "/CN=conformance-client", "-out", str(csr)],
            check=True, capture_output=True,
        )
        # An X.509 v3 certificate for client authentication (without extensions OpenSSL may
        # write a v1 certificate, which no current TLS library accepts).
        extensions = tmp_path / "client.ext"
        extensions.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
        subprocess.run(
            ["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-set_serial", "7", "-days", "1", "-extfile", str(extensions), "-out", str(cert)],
            check=True, capture_output=True,
        )
        tls_client_round_trip(server, ca_certs=str(ca), client_cert=str(cert), client_key=str(key))
        # Without a client certificate the handshake fails.
        bare = Elasticsearch(
            server.url, basic_auth=(server.user, server.password), ca_certs=str(ca), max_retries=0
        )
        try:
            with pytest.raises(TransportConnectionError):
                bare.security.authenticate()
        finally:
            bare.close()


# -- clone and bulk grant (issue #17) --------------------------------------------------------


def test_clone_with_the_client_keeps_privileges_and_owner(
    es: Elasticsearch, key_client: Callable[[str], Elasticsearch]
) -> None:
    source = create(
        es,
        "clone-source",
        expiration="1d",
        metadata={"team": "a"},
        role_descriptors={"r": {"cluster": ["monitor"]}},
    )
    clone = es.security.clone_api_key(api_key=source["encoded"], name="clone-copy").body
    assert clone["name"] == "clone-copy" and clone["id"] != source["id"]
    assert clone["expiration"] == source["expiration"]
    info = es.security.get_api_key(id=clone["id"]).body["api_keys"][0]
    assert info["metadata"] == {"team": "a", "_cloned_from": source["id"]}
    assert info["role_descriptors"] == {"r": ROLE_B_SHOWN}
    me = key_client(clone["encoded"]).security.authenticate().body
    assert me["username"] == "elastic" and me["api_key"]["name"] == "clone-copy"
    err = api_error(lambda: es.security.clone_api_key(api_key=source["encoded"] + "x", name="c"))
    assert err.meta.status in (400, 403), err.body


def test_bulk_grant_through_the_clients_perform_request(
    es: Elasticsearch, key_client: Callable[[str], Elasticsearch]
) -> None:
    es.security.put_role(name="bulk-target", cluster=["monitor"])
    es.security.put_user(username="bulk-user", password="bulk-password", roles=["bulk-target"])
    # The installed client has no method for this API yet: its `perform_request` sends it.
    reply = es.perform_request(
        "POST",
        "/_security/api_key/_bulk_grant",
        headers={"accept": "application/json", "content-type": "application/json"},
        body={
            "grant_type": "password",
            "username": "bulk-user",
            "password": "bulk-password",
            "api_keys": [{"name": f"rule-{n}"} for n in range(5)],
        },
    ).body
    assert [key["name"] for key in reply["created"]] == [f"rule-{n}" for n in range(5)]
    for key in reply["created"]:
        me = key_client(key["encoded"]).security.authenticate().body
        assert me["username"] == "bulk-user"
# -- service accounts and service tokens ---------------------------------------------------------


def test_service_token_lifecycle(es: Elasticsearch, keyward_server: Any) -> None:
    accounts = es.security.get_service_accounts(namespace="elastic").body
    assert {"elastic/auto-ops", "elastic/fleet-server", "elastic/fleet-server-remote", "elastic/kibana"} <= set(accounts)
    created = es.security.create_service_token(
        namespace="elastic", service="fleet-server", name="py-token", refresh="wait_for"
    ).body
    assert created["created"] is True and created["token"]["name"] == "py-token"
    generated = es.security.create_service_token(namespace="elastic", service="fleet-server").body
    assert generated["token"]["name"].startswith("token_")

    fleet = make_client(keyward_server.urls, bearer_auth=created["token"]["value"])
    try:
        me = fleet.security.authenticate().body
        assert me["username"] == "elastic/fleet-server"
        assert me["authentication_type"] == "token"
        assert me["token"] == {"name": "py-token", "type": "_service_account_index"}
        # manage_own_api_key: allowed; managing users: denied.
        assert fleet.security.create_api_key(name="agent").body["name"] == "agent"
        check_error(
            api_error(lambda: fleet.security.get_user()),
            403, "security_exception", "is unauthorized for service account [elastic/fleet-server]",
        )

        credentials = es.security.get_service_credentials(namespace="elastic", service="fleet-server").body
        assert credentials["service_account"] == "elastic/fleet-server"
        assert set(credentials["tokens"]) == {"py-token", generated["token"]["name"]}
        assert credentials["count"] == 2
        assert credentials["nodes_credentials"]["_nodes"]["failed"] == 0

        check_error(
            api_error(lambda: es.security.create_service_token(namespace="elastic", service="fleet-server", name="py-token")),
            409, "version_conflict_engine_exception", "document already exists",
        )
        check_error(
            api_error(lambda: es.security.create_service_token(namespace="elastic", service="nope", name="x")),
            400, "illegal_argument_exception", "service account [elastic/nope] does not exist",
        )

        cleared = es.security.clear_cached_service_tokens(namespace="elastic", service="fleet-server", name="py-token").body
        assert cleared["_nodes"]["failed"] == 0
        deleted = es.security.delete_service_token(
            namespace="elastic", service="fleet-server", name="py-token", refresh="true"
        ).body
        assert deleted == {"found": True}
        check_error(
            api_error(lambda: fleet.security.authenticate()),
            401, "security_exception",
            "failed to authenticate service account [elastic/fleet-server] with token name [py-token]",
        )
        missing = api_error(
            lambda: es.security.delete_service_token(namespace="elastic", service="fleet-server", name="py-token")
        )
        assert missing.meta.status == 404 and missing.body == {"found": False}
    finally:
        fleet.close()
