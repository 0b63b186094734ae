"""The step executor, against a scripted transport (no server)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from yamlrunner.loader import YamlSuite, YamlTest, load_yaml_documents
from yamlrunner.runner import TestRun, skip_reason, version_in_ranges
from yamlrunner.spec import ParamError, UnknownApiError
from yamlrunner.transports import Response


class ScriptedTransport:
    """Answers each call with the next scripted response and records what was asked."""

    name = "scripted"

    def __init__(self, *responses: Any) -> None:
        self.responses = list(responses)
        self.calls: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    def perform(self, api: str, args: dict[str, Any], headers: dict[str, str]) -> Response:
        self.calls.append((api, args, headers))
        item = self.responses.pop(0)
        if isinstance(item, Exception):
            raise item
        status, body, *rest = item
        headers = rest[0] if rest else []
        return Response(status=status, headers=headers, body=body, request_line=f"{api}")

    def close(self) -> None:
        pass


def suite_of(text: str, setup: str = "", teardown: str = "") -> tuple[YamlSuite, YamlTest]:
    suite = YamlSuite(folder="f", file="t.yml", path=None)  # type: ignore[arg-type]
    if setup:
        suite.setup = load_yaml_documents(setup)[0]
    if teardown:
        suite.teardown = load_yaml_documents(teardown)[0]
    test = YamlTest("t", load_yaml_documents(text)[0])
    suite.tests = [test]
    return suite, test


def run(text: str, *responses: Any, keep_going: bool = False, **sections: str):
    suite, test = suite_of(text, **sections)
    transport = ScriptedTransport(*responses)
    result = TestRun(transport, keep_going=keep_going).run(suite, test)
    return result, transport


CREATE = {"id": "abc", "name": "k", "api_key": "secret", "encoded": "YWJjOnNlY3JldA=="}


def test_set_and_substitute_into_headers_args_and_body():
    result, transport = run(
        """
        - do: {security.create_api_key: {body: {name: k}}}
        - set: {id: key_id}
        - transform_and_set: {creds: "#base64EncodeCredentials(id,api_key)"}
        - match: {encoded: $creds}
        - do:
            headers: {Authorization: "ApiKey ${creds}"}
            security.get_api_key: {id: "$key_id"}
        - do:
            security.invalidate_api_key:
              body: >
                {"ids": ["${key_id}"]}
        """,
        (200, CREATE),
        (200, {"api_keys": []}),
        (200, {}),
    )
    assert result.passed, result.report()
    creds = base64.b64encode(b"abc:secret").decode()
    assert transport.calls[1] == ("security.get_api_key", {"id": "abc"}, {"Authorization": f"ApiKey {creds}"})
    assert transport.calls[2][1] == {"body": {"ids": ["abc"]}}


def test_error_status_without_catch_fails_with_type_and_reason():
    result, _ = run(
        "- do: {security.authenticate: {}}",
        (401, {"error": {"type": "security_exception", "reason": "nope"}, "status": 401}),
    )
    assert not result.passed
    assert "401 security_exception: 'nope'" in result.failures[0]


@pytest.mark.parametrize(
    "catch, status, ok",
    [
        ("bad_request", 400, True),
        ("unauthorized", 401, True),
        ("forbidden", 403, True),
        ("missing", 404, True),
        ("request_timeout", 408, True),
        ("conflict", 409, True),
        ("unavailable", 503, True),
        ("forbidden", 401, False),
        ("missing", 200, False),
        ("request", 500, True),
        ("request", 422, True),
        ("request", 404, False),  # a status with its own name must be caught by that name
        ("request", 200, False),
        ("/security_exception/", 403, True),
        ("/other_exception/", 403, False),
        ("/security_exception/", 200, False),
    ],
)
def test_catch(catch, status, ok):
    body = {"error": {"type": "security_exception", "reason": "r"}, "status": status}
    result, _ = run(f"- do: {{catch: '{catch}', security.authenticate: {{}}}}", (status, body))
    assert result.passed is ok, result.report()


def test_catch_param_expects_the_request_not_to_be_built():
    result, _ = run("- do: {catch: param, security.update_api_key: {}}", ParamError("no id"))
    assert result.passed
    result, _ = run("- do: {catch: param, security.authenticate: {}}", (200, {}))
    assert not result.passed
    result, _ = run("- do: {security.update_api_key: {}}", ParamError("no id"))
    assert "could not be built" in result.failures[0]


def test_unknown_api_fails():
    result, _ = run("- do: {security.nope: {}}", UnknownApiError("x"))
    assert "unknown API" in result.failures[0]


def test_ignore_inside_the_api_args():
    result, transport = run(
        "- do: {security.delete_role: {name: r, ignore: 404}}", (404, {"found": False})
    )
    assert result.passed
    result, _ = run("- do: {security.delete_role: {name: r, ignore: 404}}", (400, {}))
    assert not result.passed


def test_assertions():
    body = {
        "api_keys": [{"id": "abc", "n": 3, "invalidated": False, "roles": []}],
        "metadata": {"some.key": "v"},
    }
    result, _ = run(
        """
        - do: {security.get_api_key: {}}
        - match: {api_keys.0.id: abc}
        - match: {api_keys.0.id: /^a.c$/}
        - match: {metadata.some\\.key: v}
        - match: {api_keys.0.absent: null}
        - is_true: api_keys.0.id
        - is_false: api_keys.0.invalidated
        - is_false: api_keys.0.absent
        - length: {api_keys: 1}
        - length: {api_keys.0.roles: 0}
        - gt: {api_keys.0.n: 2}
        - gte: {api_keys.0.n: 3}
        - lt: {api_keys.0.n: 4}
        - lte: {api_keys.0.n: 3}
        - contains: {api_keys: {id: abc}}
        - match: {$body: {api_keys: [{"id": "abc", "n": 3, "invalidated": false, "roles": []}], metadata: {some.key: v}}}
        """,
        (200, body),
    )
    assert result.passed, result.report()


@pytest.mark.parametrize(
    "step",
    [
        "- match: {api_keys.0.id: abd}",
        "- match: {api_keys.0.id: /^x/}",
        "- is_true: api_keys.0.absent",
        "- is_false: api_keys.0.id",
        "- length: {api_keys: 2}",
        "- gt: {api_keys.0.n: 3}",
        "- match: {api_keys.0.n: '3'}",
        "- set: {api_keys.0.absent: x}",
        "- contains: {api_keys: {id: nope}}",
        "- match: {x: $never_set}",
    ],
)
def test_failing_assertions(step):
    result, _ = run(
        "- do: {security.get_api_key: {}}\n" + step, (200, {"api_keys": [{"id": "abc", "n": 3}]})
    )
    assert not result.passed


def _forbidden(reason: str, status: int = 403) -> tuple[int, dict]:
    return (
        status,
        {
            "error": {
                "root_cause": [{"type": "security_exception", "reason": reason}],
                "type": "security_exception",
                "reason": reason,
            },
            "status": status,
        },
    )


_UNAUTHORIZED = (
    "action [cluster:admin/xpack/security/api_key/invalidate] is unauthorized for user "
    "[api_key_user_1] {roles}, this action is granted by the cluster privileges "
    "[manage_api_key,manage_security,all]"
)
_WORDINGS = [
    "with roles [user_role]",
    "with effective roles [user_role]",
    "with declared roles [user_role] (all resolved)",
]


@pytest.mark.parametrize("expected", _WORDINGS)
@pytest.mark.parametrize("actual", _WORDINGS)
def test_the_three_403_role_wordings_are_wording_differences(expected, actual):
    expected_reason = _UNAUTHORIZED.format(roles=expected)
    result, _ = run(
        f"""
        - do: {{catch: forbidden, security.invalidate_api_key: {{body: {{}}}}}}
        - match: {{error.type: security_exception}}
        - match: {{error.reason: "{expected_reason}"}}
        - match: {{error.root_cause.0.reason: "{expected_reason}"}}
        """,
        _forbidden(_UNAUTHORIZED.format(roles=actual)),
    )
    assert result.passed, result.report()
    if expected == actual:
        assert result.wording == []
    else:
        assert [w.path for w in result.wording] == ["error.reason", "error.root_cause.0.reason"]
        assert result.wording[0].error_type == "security_exception"


@pytest.mark.parametrize(
    "actual",
    [
        # Same wording family, different substance: user, roles, action, privileges.
        _UNAUTHORIZED.format(roles="with effective roles [other_role]"),
        _UNAUTHORIZED.format(roles="with roles [user_role,other_role]"),
        _UNAUTHORIZED.replace("[api_key_user_1]", "[someone_else]").format(
            roles="with roles [user_role]"
        ),
        _UNAUTHORIZED.replace("[manage_api_key,", "[").format(roles="with roles [user_role]"),
        _UNAUTHORIZED.replace("invalidate", "get").format(roles="with roles [user_role]"),
        # A fourth wording is not one of the three.
        _UNAUTHORIZED.format(roles="with effective roles [user_role] (all resolved)"),
        _UNAUTHORIZED.format(
            roles="with effective roles [user_role] (assigned roles [x] were not found)"
        ),
        "something else entirely",
    ],
)
def test_any_other_reason_difference_fails_even_when_the_type_matches(actual):
    expected_reason = _UNAUTHORIZED.format(roles="with declared roles [user_role] (all resolved)")
    result, _ = run(
        f"""
        - do: {{catch: forbidden, security.invalidate_api_key: {{body: {{}}}}}}
        - match: {{error.type: security_exception}}
        - match: {{error.reason: "{expected_reason}"}}
        """,
        _forbidden(actual),
    )
    assert not result.passed
    assert "error.reason" in result.failures[0]
    assert result.wording == []


def test_role_wording_is_only_tolerated_on_a_403():
    expected_reason = _UNAUTHORIZED.format(roles="with roles [user_role]")
    result, _ = run(
        f"""
        - do: {{catch: bad_request, security.invalidate_api_key: {{body: {{}}}}}}
        - match: {{error.reason: "{expected_reason}"}}
        """,
        _forbidden(_UNAUTHORIZED.format(roles="with effective roles [user_role]"), status=400),
    )
    assert not result.passed
    assert result.wording == []


def test_a_reason_mismatch_fails_at_its_own_step():
    result, _ = run(
        """
        - do: {catch: forbidden, security.authenticate: {}}
        - match: {error.reason: old}
        - match: {error.type: security_exception}
        """,
        _forbidden("new"),
        keep_going=True,
    )
    assert len(result.failures) == 1
    assert result.failures[0].startswith("test step 2 (match)")


def test_setup_failure_stops_the_test_but_teardown_runs():
    result, transport = run(
        "- do: {security.authenticate: {}}",
        (400, {"error": "no handler"}),
        (200, {}),
        setup="- do: {security.put_role: {name: r, body: {}}}",
        teardown="- do: {security.delete_role: {name: r}}",
    )
    assert not result.passed
    assert [c[0] for c in transport.calls] == ["security.put_role", "security.delete_role"]
    assert result.failures[0].startswith("setup step 1 (do)")


def test_keep_going_records_every_failure():
    result, transport = run(
        """
        - do: {security.authenticate: {}}
        - match: {username: x}
        - do: {security.authenticate: {}}
        - match: {username: y}
        """,
        (500, {}),
        (200, {"username": "z"}),
        keep_going=True,
    )
    # The match after the failed do is not run; the second do and its match are.
    assert len(result.failures) == 2
    assert len(transport.calls) == 2


def test_skip_reasons():
    suite, test = suite_of("- skip: {features: [headers, transform_and_set]}\n- do: {x: {}}")
    assert skip_reason(suite, test, es_version="9.1.0") is None
    suite, test = suite_of("- skip: {features: no_such_feature}\n- do: {x: {}}")
    assert "no_such_feature" in skip_reason(suite, test, es_version="9.1.0")
    suite, test = suite_of("- do: {x: {}}", setup="- skip: {features: nope}\n- do: {y: {}}")
    assert skip_reason(suite, test, es_version="9.1.0").startswith("setup:")
    suite, test = suite_of("- skip: {version: ' - 8.99.99', reason: old}\n- do: {x: {}}")
    assert skip_reason(suite, test, es_version="9.1.0") is None
    assert "old" in skip_reason(suite, test, es_version="8.5.0")
    suite, test = suite_of("- requires: {cluster_features: [f], reason: r}\n- do: {x: {}}")
    assert "cluster features" in skip_reason(suite, test, es_version="9.1.0")
    suite, test = suite_of("- do: {x: {}}")
    suite.requires = {"stack": False, "serverless": True}
    assert "serverless" in skip_reason(suite, test, es_version="9.1.0")
    suite.requires = {"stack": True, "serverless": False}
    assert skip_reason(suite, test, es_version="9.1.0") is None


@pytest.mark.parametrize(
    "version, ranges, inside",
    [
        ("9.1.0", "all", True),
        ("9.1.0", " - 8.15.99", False),
        ("8.1.0", " - 8.15.99", True),
        ("9.1.0", "9.0.0 - ", True),
        ("9.1.0", "7.0.0 - 7.9.9, 9.1.0 - 9.1.5", True),
        ("9.1.0", "9.1.0", True),
    ],
)
def test_version_in_ranges(version, ranges, inside):
    assert version_in_ranges(version, ranges) is inside


_DEPRECATED = [("Warning", '299 Elasticsearch-9.1.0-0123abc "[x] is deprecated"')]


def test_unexpected_warning_header_fails_the_do_step():
    result, _ = run("- do: {security.authenticate: {}}", (200, {}, _DEPRECATED))
    assert not result.passed
    assert "unexpected warning" in result.failures[0]


def test_warnings_and_allowed_warnings_in_a_do_step():
    result, _ = run(
        "- do: {warnings: ['[x] is deprecated'], security.authenticate: {}}",
        (200, {}, _DEPRECATED),
    )
    assert result.passed, result.report()
    result, _ = run(
        "- do: {warnings: ['[x] is deprecated'], security.authenticate: {}}", (200, {})
    )
    assert not result.passed and "did not get expected warning" in result.failures[0]
    result, _ = run(
        "- do: {allowed_warnings: ['[x] is deprecated'], security.authenticate: {}}",
        (200, {}, _DEPRECATED),
    )
    assert result.passed, result.report()
    result, _ = run(
        "- do: {allowed_warnings_regex: ['\\[x\\] .*'], security.authenticate: {}}",
        (200, {}, _DEPRECATED),
    )
    assert result.passed, result.report()
    result, _ = run(
        "- do: {warnings: [a], allowed_warnings: [a], security.authenticate: {}}", (200, {})
    )
    assert not result.passed and "both allowed and expected" in result.failures[0]


def test_warnings_are_not_checked_on_caught_errors_but_are_on_ignored_ones():
    result, _ = run(
        "- do: {catch: forbidden, security.authenticate: {}}",
        (403, _forbidden("no")[1], _DEPRECATED),
    )
    assert result.passed, result.report()
    result, _ = run(
        "- do: {security.delete_role: {name: r, ignore: 404}}", (404, {"found": False}, _DEPRECATED)
    )
    assert not result.passed and "unexpected warning" in result.failures[0]
