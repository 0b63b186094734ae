"""The two ways a YAML step reaches the server.

* `HttpTransport`: a request built from the rest-api-spec files, sent with `http.client`
  (standard library only).
* `ClientTransport`: the official Python client, `client.options(headers=…).<ns>.<api>(**args)`;
  its exceptions are turned back into status, headers and body. An API newer than the installed
  client (no method for it yet) goes through the same client's `perform_request`, with the path
  and query built from the rest-api-spec: what a user of that client version writes.

Both return a `Response` for every HTTP answer, error statuses included: deciding what an error
means (`catch`, `ignore`) is the runner's job.
"""

from __future__ import annotations

import base64
import http.client
import json
import urllib.parse
import warnings
from dataclasses import dataclass, field
from typing import Any, Protocol

from .spec import (
    CLIENT_ONLY_ARGS,
    ApiSpecs,
    ParamError,
    RequestBuilder,
    UnknownApiError,
    canonical_api,
)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    # What was sent, for failure messages: "POST /_security/api_key".
    request_line: str = ""

    def header_values(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    @property
    def text(self) -> str:
        if isinstance(self.body, str):
            return self.body
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False)


class Transport(Protocol):
    name: str

    def perform(self, api: str, args: dict[str, Any], headers: dict[str, str]) -> Response:
        """Sends one API call; raises ParamError or UnknownApiError before sending."""
        ...

    def close(self) -> None: ...


def basic_auth_header(user: str, password: str) -> str:
    token = base64.b64encode(f"{user}:{password}".encode("utf-8")).decode("ascii")
    return f"Basic {token}"


def decode_body(raw: bytes, content_type: str | None) -> Any:
    """JSON when it parses as JSON, else text; an empty body is None."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class HttpTransport:
    """Raw HTTP from the rest-api-spec, using only the standard library."""

    name = "http"

    def __init__(
        self,
        base_url: str | list[str],
        user: str,
        password: str,
        specs: ApiSpecs,
        timeout: float = 30.0,
    ) -> None:
        # Several URLs (the nodes of one cluster): each request goes to the next, round-robin.
        self.nodes = []
        for url in [base_url] if isinstance(base_url, str) else base_url:
            parsed = urllib.parse.urlsplit(url)
            if parsed.scheme != "http":
                raise ValueError(f"only http:// URLs are supported, got {url}")
            self.nodes.append(
                (parsed.hostname or "127.0.0.1", parsed.port or 80, parsed.path.rstrip("/"))
            )
        self.sent = 0
        self.default_auth = basic_auth_header(user, password)
        self.builder = RequestBuilder(specs)
        self.timeout = timeout

    def perform(self, api: str, args: dict[str, Any], headers: dict[str, str]) -> Response:
        request = self.builder.build(api, args)
        send_headers = {"Accept": "application/json"}
        if not any(k.lower() == "authorization" for k in headers):
            send_headers["Authorization"] = self.default_auth
        if request.content_type:
            send_headers["Content-Type"] = request.content_type
        send_headers.update(headers)
        host, port, base_path = self.nodes[self.sent % len(self.nodes)]
        self.sent += 1
        target = base_path + request.target
        conn = http.client.HTTPConnection(host, port, timeout=self.timeout)
        try:
            conn.request(request.method, target, body=request.body, headers=send_headers)
            raw = conn.getresponse()
            data = raw.read()
            return Response(
                status=raw.status,
                headers=list(raw.getheaders()),
                body=decode_body(data, raw.getheader("Content-Type")),
                request_line=f"{request.method} {target}",
            )
        finally:
            conn.close()

    def close(self) -> None:
        pass


class ClientTransport:
    """The official `elasticsearch` Python client (9.x)."""

    name = "client"

    def __init__(
        self,
        base_url: str | list[str],
        user: str,
        password: str,
        timeout: float = 30.0,
        specs: ApiSpecs | None = None,
    ) -> None:
        from elasticsearch import Elasticsearch

        # For APIs the client has no method for yet.
        self.builder = RequestBuilder(specs) if specs is not None else None

        # Given several nodes, the client spreads requests over them (its default round-robin
        # node selector).
        self.client = Elasticsearch(
            base_url,
            basic_auth=(user, password),
            request_timeout=timeout,
            max_retries=0,
            retry_on_timeout=False,
        )

    def perform(self, api: str, args: dict[str, Any], headers: dict[str, str]) -> Response:
        api = canonical_api(api)
        namespace, _, method_name = api.rpartition(".")
        target: Any = self.client.options(headers=headers) if headers else self.client
        for part in namespace.split(".") if namespace else []:
            target = getattr(target, part, None)
            if target is None:
                raise UnknownApiError(f"the Python client has no namespace [{namespace}]")
        method = getattr(target, method_name, None)
        if method is None or not callable(method):
            if self.builder is None:
                raise UnknownApiError(f"the Python client has no method [{api}]")
            return self._perform_raw(api, args, headers)

        kwargs = {k: v for k, v in args.items() if v is not None and k not in CLIENT_ONLY_ARGS}
        if isinstance(kwargs.get("body"), str):
            try:
                kwargs["body"] = json.loads(kwargs["body"])
            except ValueError as exc:
                raise ParamError(f"body is not JSON: {exc}") from exc
        kwargs = {_python_name(k): v for k, v in kwargs.items()}
        line = f"client.{api}({', '.join(sorted(kwargs))})"
        try:
            return _call(line, lambda: method(**kwargs))
        except (TypeError, ValueError) as exc:
            # Raised by the client before sending: a missing or unknown argument.
            raise ParamError(f"{line}: {exc}") from exc

    def _perform_raw(self, api: str, args: dict[str, Any], headers: dict[str, str]) -> Response:
        """`client.perform_request` for an API without a client method."""
        assert self.builder is not None
        request = self.builder.build(api, args)
        send_headers = {"accept": "application/json", **headers}
        body: Any = None
        if request.body is not None:
            send_headers["content-type"] = request.content_type or "application/json"
            body = json.loads(request.body) if "json" in send_headers["content-type"] else request.body
        line = f"client.perform_request({request.method!r}, {request.target!r})"
        return _call(
            line,
            lambda: self.client.perform_request(
                request.method, request.target, headers=send_headers, body=body
            ),
        )

    def close(self) -> None:
        self.client.close()


def _call(line: str, send: Any) -> Response:
    """Sends through the client; its error answers become Responses like its successes."""
    import elasticsearch

    try:
        # The client turns `Warning` headers into Python warnings; the runner checks the
        # headers themselves.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", elasticsearch.ElasticsearchWarning)
            result = send()
    except elasticsearch.UnsupportedProductError as exc:
        # The client refuses a successful answer without `X-Elastic-Product: Elasticsearch`.
        raise RuntimeError(f"{line}: the client rejected the response: {exc}") from exc
    except elasticsearch.ApiError as exc:
        return Response(
            status=exc.meta.status,
            headers=_header_pairs(exc.meta.headers),
            body=exc.body,
            request_line=line,
        )
    return Response(
        status=result.meta.status,
        headers=_header_pairs(result.meta.headers),
        body=result.body,
        request_line=line,
    )


def _python_name(name: str) -> str:
    """The client renames arguments that clash with Python keywords (`from` → `from_`)."""
    return "from_" if name == "from" else name


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    if headers is None:
        return []
    try:
        return [(k, v) for k, v in headers.items()]
    except AttributeError:
        return []
