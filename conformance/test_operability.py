"""Operability: `GET /_keyward/metrics` scraped after real traffic and parsed with the Prometheus
client library's own parser (`prometheus_client`), so the exposition is what a Prometheus server
reads."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families


def request(
    url: str, method: str, path: str, auth: str | None, body: Any = None
) -> tuple[int, Any, bytes]:
    """One request; the status, headers and body whatever the status."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url + path, data=data, method=method)
    if auth:
        req.add_header("Authorization", auth)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, res.headers, res.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def scrape(url: str, auth: str) -> dict[str, Any]:
    """The scrape parsed: family name → family; every line must parse."""
    status, headers, body = request(url, "GET", "/_keyward/metrics", auth)
    assert status == 200, body
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = body.decode()
    families = {family.name: family for family in text_string_to_metric_families(text)}
    # Every family announced its HELP and TYPE (the parser would default a missing TYPE to
    # `unknown` and a missing HELP to an empty string).
    for family in families.values():
        assert family.type != "unknown", family.name
        assert family.documentation, family.name
    helps = [line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")]
    types = [line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")]
    assert helps == types and len(set(helps)) == len(helps)
    return families


def value(families: dict[str, Any], family: str, sample: str, **labels: str) -> float:
    """The value of one sample (0 when the sample is absent)."""
    for s in families[family].samples:
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return 0.0


def test_metrics_scrape_parses_and_counts(keyward_server: Any) -> None:
    url = keyward_server.url
    admin = basic(keyward_server.user, keyward_server.password)
    before = scrape(url, admin)

    status, _, body = request(url, "POST", "/_security/api_key", admin, {"name": "scraped"})
    assert status == 200, body
    key = json.loads(body)
    api_key = "ApiKey " + key["encoded"]
    for _ in range(3):
        assert request(url, "GET", "/_cluster/health", api_key)[0] == 200
    assert request(url, "GET", "/_cluster/health", None)[0] == 401
    assert request(url, "GET", "/_cluster/health", basic("elastic", "wrong-password"))[0] == 401
    status, _, body = request(
        url, "POST", "/_security/api_key", admin, {"name": "doomed", "expiration": "1ms"}
    )
    assert status == 200, body
    status, _, body = request(
        url, "DELETE", "/_security/api_key", admin, {"ids": [key["id"]]}
    )
    assert status == 200, body
    assert request(url, "GET", "/_cluster/health", api_key)[0] == 401

    after = scrape(url, admin)

    def moved(family: str, sample: str, **labels: str) -> float:
        return value(after, family, sample, **labels) - value(before, family, sample, **labels)

    requests = "keyward_http_requests"
    assert moved(requests, requests + "_total", api="security.create_api_key", status_class="2xx") == 2
    assert moved(requests, requests + "_total", api="cluster.health", status_class="2xx") == 3
    assert moved(requests, requests + "_total", api="cluster.health", status_class="4xx") == 3
    assert moved(requests, requests + "_total", api="security.invalidate_api_key", status_class="2xx") == 1
    latency = "keyward_http_request_duration_seconds"
    assert moved(latency, latency + "_count", api="cluster.health") == 6
    authentications = "keyward_authentications"
    assert moved(authentications, authentications + "_total", scheme="api_key", outcome="success") == 3
    assert moved(authentications, authentications + "_total", scheme="api_key", outcome="failure") == 1
    assert moved(authentications, authentications + "_total", scheme="missing", outcome="failure") == 1
    assert moved(authentications, authentications + "_total", scheme="basic", outcome="failure") == 1
    assert moved("keyward_cache_hits", "keyward_cache_hits_total", cache="api_keys") >= 2
    # Keys by state are counted at most once a second: poll until the count shows the changes.
    deadline = time.monotonic() + 10
    while True:
        now = scrape(url, admin)
        invalidated = value(now, "keyward_api_keys", "keyward_api_keys", state="invalidated")
        expired = value(now, "keyward_api_keys", "keyward_api_keys", state="expired")
        if invalidated >= 1 and expired >= 1:
            break
        assert time.monotonic() < deadline, (invalidated, expired)
    store = "keyward_store_operation_duration_seconds"
    assert moved(store, store + "_count", operation="write") >= 3
    assert value(after, "keyward_build_info", "keyward_build_info") == 1
    # Bounded labels: nothing that names a key, a user or a path.
    text = request(url, "GET", "/_keyward/metrics", admin)[2].decode()
    for secret_or_id in (key["id"], key["api_key"], key["encoded"], keyward_server.password):
        assert secret_or_id not in text


def test_metrics_needs_monitor(keyward_server: Any) -> None:
    url = keyward_server.url
    admin = basic(keyward_server.user, keyward_server.password)
    assert request(url, "GET", "/_keyward/metrics", None)[0] == 401
    status, _, body = request(
        url,
        "POST",
        "/_security/api_key",
        admin,
        {"name": "no-monitor", "role_descriptors": {"r": {"cluster": ["manage_own_api_key"]}}},
    )
    assert status == 200, body
    status, _, body = request(
        url, "GET", "/_keyward/metrics", "ApiKey " + json.loads(body)["encoded"]
    )
    assert status == 403, body
    error = json.loads(body)["error"]
    assert error["type"] == "security_exception"
    assert "action [cluster:monitor/keyward/metrics] is unauthorized" in error["reason"]
    status, _, body = request(
        url,
        "POST",
        "/_security/api_key",
        admin,
        {"name": "monitor", "role_descriptors": {"r": {"cluster": ["monitor"]}}},
    )
    status, _, _ = request(url, "GET", "/_keyward/metrics", "ApiKey " + json.loads(body)["encoded"])
    assert status == 200
