"""Both transports against a small local HTTP server that records requests (no keyward)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from yamlrunner.cases import api_specs
from yamlrunner.loader import YamlSuite, YamlTest, load_yaml_documents
from yamlrunner.runner import TestRun
from yamlrunner.spec import ParamError, UnknownApiError
from yamlrunner.transports import ClientTransport, HttpTransport, basic_auth_header


class Recorder:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        # path prefix -> (status, body, extra headers)
        self.answers: dict[str, tuple[int, Any, list[tuple[str, str]]]] = {}
        self.product_header = True


@pytest.fixture
def fake_es() -> Iterator[tuple[str, Recorder]]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            recorder.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": dict(self.headers),
                    "body": json.loads(body) if body else None,
                }
            )
            status, payload, extra = 200, {"ok": True}, []
            for prefix, answer in recorder.answers.items():
                if self.path.startswith(prefix):
                    status, payload, extra = answer
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            if recorder.product_header:
                self.send_header("X-Elastic-Product", "Elasticsearch")
            for name, value in extra:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _answer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", recorder
    finally:
        server.shutdown()
        server.server_close()


ERROR_401 = {
    "error": {"type": "security_exception", "reason": "unable to authenticate"},
    "status": 401,
}
CHALLENGES = [("WWW-Authenticate", 'Basic realm="security"'), ("WWW-Authenticate", "ApiKey")]


def test_http_transport_request_shape(fake_es):
    url, rec = fake_es
    transport = HttpTransport(url, "elastic", "pw", api_specs())
    resp = transport.perform("security.get_api_key", {"id": "x", "owner": True}, {})
    assert resp.status == 200 and resp.body == {"ok": True}
    req = rec.requests[-1]
    assert (req["method"], req["path"]) == ("GET", "/_security/api_key?id=x&owner=true")
    assert req["headers"]["Authorization"] == basic_auth_header("elastic", "pw")

    transport.perform(
        "security.invalidate_api_key", {"body": {"ids": ["a"]}}, {"Authorization": "ApiKey zzz"}
    )
    req = rec.requests[-1]
    assert (req["method"], req["body"]) == ("DELETE", {"ids": ["a"]})
    assert req["headers"]["Authorization"] == "ApiKey zzz"
    assert req["headers"]["Content-Type"] == "application/json"


def test_http_transport_keeps_error_bodies_and_repeated_headers(fake_es):
    url, rec = fake_es
    rec.answers["/_security/_authenticate"] = (401, ERROR_401, CHALLENGES)
    resp = HttpTransport(url, "elastic", "pw", api_specs()).perform(
        "security.authenticate", {}, {}
    )
    assert resp.status == 401 and resp.body == ERROR_401
    assert resp.header_values("www-authenticate") == ['Basic realm="security"', "ApiKey"]


def test_client_transport_maps_errors_back_to_status_and_body(fake_es):
    url, rec = fake_es
    rec.answers["/_security/_authenticate"] = (401, ERROR_401, CHALLENGES)
    rec.answers["/_security/api_key?id=missing"] = (404, {"api_keys": []}, [])
    transport = ClientTransport(url, "elastic", "pw")
    try:
        resp = transport.perform("security.authenticate", {}, {"Authorization": "ApiKey k"})
        assert (resp.status, resp.body) == (401, ERROR_401)
        assert rec.requests[-1]["headers"]["authorization"] == "ApiKey k"
        resp = transport.perform("security.get_api_key", {"id": "missing"}, {})
        assert (resp.status, resp.body) == (404, {"api_keys": []})
        resp = transport.perform(
            "security.create_api_key", {"body": '{"name": "k"}', "refresh": "wait_for"}, {}
        )
        assert resp.status == 200
        req = rec.requests[-1]
        assert req["method"] in ("PUT", "POST") and req["body"] == {"name": "k"}
        assert req["path"] == "/_security/api_key?refresh=wait_for"
        assert req["headers"]["authorization"] == basic_auth_header("elastic", "pw")
        resp = transport.perform("security.query_api_key", {"body": {}}, {})
        assert rec.requests[-1]["path"] == "/_security/_query/api_key"
        resp = transport.perform("cluster.health", {"wait_for_status": "yellow"}, {})
        assert rec.requests[-1]["path"] == "/_cluster/health?wait_for_status=yellow"
    finally:
        transport.close()


def test_client_transport_param_and_unknown_api_errors(fake_es):
    url, _ = fake_es
    transport = ClientTransport(url, "elastic", "pw")
    try:
        with pytest.raises(ParamError):
            transport.perform("security.update_api_key", {}, {})  # no id
        with pytest.raises(ParamError):
            transport.perform("security.get_api_key", {"bogus": 1}, {})
        with pytest.raises(UnknownApiError):
            transport.perform("security.bulk_grant_api_key", {"body": {}}, {})
    finally:
        transport.close()


def test_client_transport_sends_apis_it_has_no_method_for_with_perform_request(fake_es):
    url, rec = fake_es
    rec.answers["/_security/api_key/_bulk_grant"] = (400, {"error": {"type": "x"}}, [])
    transport = ClientTransport(url, "elastic", "pw", specs=api_specs())
    try:
        body = '{"grant_type": "password", "api_keys": [{"name": "k"}]}'
        resp = transport.perform(
            "security.bulk_grant_api_key",
            {"body": body, "refresh": "true"},
            {"Authorization": "ApiKey k"},
        )
        assert (resp.status, resp.body) == (400, {"error": {"type": "x"}})
        req = rec.requests[-1]
        assert req["method"] == "POST"
        assert req["path"] == "/_security/api_key/_bulk_grant?refresh=true"
        assert req["body"] == json.loads(body)
        assert req["headers"]["authorization"] == "ApiKey k"
        assert "perform_request" in resp.request_line
    finally:
        transport.close()


def test_client_transport_reports_a_missing_product_header(fake_es):
    url, rec = fake_es
    rec.product_header = False
    transport = ClientTransport(url, "elastic", "pw")
    try:
        with pytest.raises(RuntimeError, match="rejected the response"):
            transport.perform("security.authenticate", {}, {})
    finally:
        transport.close()


WARNINGS = [
    ("Warning", '299 Elasticsearch-9.1.0-0123abc "[a] is deprecated, use [b]"'),
    ("Warning", '299 Elasticsearch-9.1.0-0123abc "say \\"hi\\"" "Sat, 06 Dec 2026 23:00:00 GMT"'),
]


@pytest.mark.parametrize("transport_name", ["http", "client"])
def test_warning_headers_reach_the_runner_through_both_transports(fake_es, transport_name):
    url, rec = fake_es
    rec.answers["/_security/_authenticate"] = (200, {"username": "elastic"}, WARNINGS)
    if transport_name == "http":
        transport: Any = HttpTransport(url, "elastic", "pw", api_specs())
    else:
        transport = ClientTransport(url, "elastic", "pw")
    suite = YamlSuite(folder="f", file="t.yml", path=None)  # type: ignore[arg-type]

    def run(steps: str) -> Any:
        return TestRun(transport).run(suite, YamlTest("t", load_yaml_documents(steps)[0]))

    try:
        result = run(
            """
            - do:
                warnings: ['[a] is deprecated, use [b]', 'say "hi"']
                security.authenticate: {}
            """
        )
        assert result.passed, result.report()
        result = run(
            """
            - do:
                warnings: ['[a] is deprecated, use [b]']
                security.authenticate: {}
            """
        )
        assert not result.passed and "unexpected warning" in result.failures[0]
        result = run("- do: {security.authenticate: {}}")
        assert not result.passed and "unexpected warning" in result.failures[0]
    finally:
        transport.close()


@pytest.mark.parametrize("transport_name", ["http", "client"])
def test_several_nodes_take_requests_in_turn(fake_es, transport_name):
    url, rec = fake_es
    nodes = [f"{url}/node-a", f"{url}/node-b", f"{url}/node-c"]
    if transport_name == "http":
        transport = HttpTransport(nodes, "elastic", "pw", api_specs())
    else:
        transport = ClientTransport(nodes, "elastic", "pw")
    for _ in range(6):
        assert transport.perform("security.authenticate", {}, {}).status == 200
    transport.close()
    seen = [req["path"].split("/")[1] for req in rec.requests]
    assert sorted(seen) == ["node-a", "node-a", "node-b", "node-b", "node-c", "node-c"], seen
    assert all(a != b for a, b in zip(seen, seen[1:])), f"not spread: {seen}"
