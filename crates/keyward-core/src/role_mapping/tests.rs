use serde_json::{Map, Value, json};

use super::template::{MAX_DEPTH, MAX_OUTPUT, Template};
use super::{RoleMapping, UserData};
use crate::error::Error;

fn user() -> UserData {
    let mut metadata = Map::new();
    metadata.insert("uid".to_owned(), json!("u-42"));
    metadata.insert("level".to_owned(), json!(3));
    metadata.insert("tags".to_owned(), json!(["a", "b"]));
    metadata.insert("active".to_owned(), json!(true));
    UserData {
        username: "jdoe".to_owned(),
        dn: Some("CN=John Doe, OU=Staff, DC=Example, DC=com".to_owned()),
        groups: vec![
            "cn=admins,ou=groups,dc=example,dc=com".to_owned(),
            "cn=devs,ou=groups,dc=example,dc=com".to_owned(),
        ],
        metadata,
        realm_name: "ldap1".to_owned(),
    }
}

fn mapping(rules: Value) -> RoleMapping {
    RoleMapping::parse(&json!({"roles": ["r"], "rules": rules})).unwrap()
}

/// Table of rules and whether each matches [`user`].
#[test]
fn rules_decide_as_elasticsearch() {
    let check = |rules: Value, expected: bool| {
        assert_eq!(
            mapping(rules.clone()).rules.matches(&user()),
            expected,
            "{rules}"
        );
    };
    check(json!({"field": {"username": "jdoe"}}), true);
    check(json!({"field": {"username": "*"}}), true);
    check(json!({"field": {"username": "j?oe"}}), true);
    check(json!({"field": {"username": "JDOE"}}), false);
    check(json!({"field": {"username": "/j.*e/"}}), true);
    check(json!({"field": {"username": "/x.*/"}}), false);
    check(json!({"field": {"username": ["x", "jdoe"]}}), true);
    check(json!({"field": {"realm.name": "ldap*"}}), true);
    check(json!({"field": {"metadata.uid": "u-42"}}), true);
    check(json!({"field": {"metadata.level": 3}}), true);
    check(json!({"field": {"metadata.level": 3.9}}), true);
    check(json!({"field": {"metadata.level": "3"}}), false);
    check(json!({"field": {"metadata.active": true}}), true);
    check(json!({"field": {"metadata.tags": "b"}}), true);
    check(json!({"field": {"metadata.missing": null}}), true);
    check(json!({"field": {"metadata.uid": null}}), false);
    check(json!({"field": {"unknown": "*"}}), false);
    // Distinguished names: case and spacing do not matter; `*,<dn>` means "below".
    check(
        json!({"field": {"dn": "cn=john doe,ou=staff,dc=example,dc=com"}}),
        true,
    );
    check(
        json!({"field": {"dn": "*,ou=staff,dc=example,dc=com"}}),
        true,
    );
    check(
        json!({"field": {"dn": "*,OU=Staff, DC=example,dc=com"}}),
        true,
    );
    check(
        json!({"field": {"dn": "*,ou=other,dc=example,dc=com"}}),
        false,
    );
    check(json!({"field": {"dn": "*ou=staff*"}}), true);
    check(
        json!({"field": {"groups": "cn=admins,ou=groups,dc=example,dc=com"}}),
        true,
    );
    check(
        json!({"field": {"groups": "CN=Admins, OU=Groups,DC=example,DC=com"}}),
        true,
    );
    check(
        json!({"field": {"groups": "*,ou=groups,dc=example,dc=com"}}),
        true,
    );
    check(
        json!({"field": {"groups": "cn=ops,ou=groups,dc=example,dc=com"}}),
        false,
    );
    // Composites.
    check(json!({"all": []}), true);
    check(json!({"any": []}), false);
    check(
        json!({"all": [{"field": {"username": "jdoe"}}, {"field": {"realm.name": "ldap1"}}]}),
        true,
    );
    check(
        json!({"all": [{"field": {"username": "jdoe"}}, {"except": {"field": {"metadata.active": true}}}]}),
        false,
    );
    check(
        json!({"any": [{"field": {"username": "x"}}, {"all": [{"except": {"field": {"username": "y"}}}]}]}),
        true,
    );
}

#[test]
fn parse_errors_name_the_problem_as_elasticsearch() {
    let check = |body: Value, kind: &str, expected: &str| {
        let err = RoleMapping::parse(&body).unwrap_err();
        let (found_kind, reason) = match &err {
            Error::XContentParse {
                caused_by: Some(cause),
                ..
            } => match &**cause {
                Error::Parse(reason) => ("parse", reason.clone()),
                Error::IllegalArgument(reason) => ("illegal_argument", reason.clone()),
                other => ("x_content", other.to_string()),
            },
            Error::XContentParse { reason, .. } => ("x_content", reason.clone()),
            Error::Validation(errors) => ("validation", errors.to_string()),
            Error::IllegalArgument(reason) => ("illegal_argument", reason.clone()),
            other => ("other", other.to_string()),
        };
        assert_eq!((found_kind, reason.as_str()), (kind, expected), "{body}");
    };
    let rules = |rules: Value| json!({"roles": ["r"], "rules": rules});
    check(
        rules(json!({"except": {"field": {"username": "x"}}})),
        "parse",
        "failed to parse rules expression. field [except] is not allowed within [rules]",
    );
    check(
        rules(json!({"any": [{"except": {"field": {"username": "x"}}}]})),
        "parse",
        "failed to parse rules expression. field [except] is not allowed within [any]",
    );
    check(
        rules(json!({"all": [{"except": {"except": {"field": {"username": "x"}}}}]})),
        "parse",
        "failed to parse rules expression. field [except] is not allowed within [except]",
    );
    check(
        rules(json!({"bogus": []})),
        "parse",
        "failed to parse rules expression. field [bogus] is not recognised in object [rules]",
    );
    check(
        rules(json!({})),
        "parse",
        "failed to parse rules expression. object [rules] does not contain any fields",
    );
    check(
        rules(json!({"field": {"username": "a"}, "any": []})),
        "parse",
        "failed to parse rules expression. object [rules] contains multiple fields",
    );
    check(
        rules(json!({"all": {"field": {"username": "a"}}})),
        "parse",
        "failed to parse rules expression. field [all] requires an array",
    );
    check(
        rules(json!({"any": ["x"]})),
        "parse",
        "failed to parse rules expression. expected [any] to be an object but found [VALUE_STRING] instead",
    );
    check(
        rules(json!({"field": {"username": {"a": 1}}})),
        "parse",
        "failed to parse rules expression. expected a field value but found [START_OBJECT] instead",
    );
    check(
        rules(json!({"field": "username"})),
        "parse",
        "failed to parse rules expression. expected an object but found [VALUE_STRING] instead",
    );
    check(
        rules(json!({"field": {"username": "/[/"}})),
        "illegal_argument",
        "invalid regular expression pattern [/[/]: [/[/]",
    );
    check(
        json!({"roles": ["r"], "rules": {"field": {"username": "*"}}, "x": 1}),
        "x_content",
        "[role-mapping] unknown field [x]",
    );
    check(
        json!({"roles": 5, "rules": {"field": {"username": "*"}}}),
        "illegal_argument",
        "[roles] doesn't support values of type: VALUE_NUMBER",
    );
    check(
        json!({"rules": {"field": {"username": "*"}}}),
        "validation",
        "Validation Failed: 1: role-mapping roles or role-templates are missing;",
    );
    check(
        json!({"roles": ["r"], "role_templates": [{"template": {"source": "x"}}], "rules": {"field": {"username": "*"}}}),
        "validation",
        "Validation Failed: 1: role-mapping cannot have both roles and role-templates;",
    );
    check(
        json!({"roles": [], "metadata": {"_x": 1}}),
        "validation",
        "Validation Failed: 1: role-mapping roles or role-templates are missing;2: role-mapping rules are missing;3: metadata keys may not start with [_];",
    );
    check(
        json!({"roles": ["r"], "rules": {"all": []}, "run_as": ["u"]}),
        "illegal_argument",
        "run_as is not supported in role mappings",
    );
    assert!(
        RoleMapping::parse(&json!({"roles": ["r"], "rules": {"all": []}, "run_as": [], "doc_type": "role-mapping", "type": "x"}))
            .is_ok()
    );
    check(
        json!({"role_templates": [{"template": {"source": "{{#x}}"}}], "rules": {"all": []}}),
        "illegal_argument",
        "failed to compile role template: section [x] is not closed",
    );
    check(
        json!({"role_templates": [{"template": {"source": "x"}, "format": "yaml"}], "rules": {"all": []}}),
        "x_content",
        "Invalid format [yaml] expected one of [json,string]",
    );
}

#[test]
fn renders_back_as_elasticsearch() {
    let body = json!({
        "enabled": false,
        "roles": ["a", "b"],
        "rules": {"all": [{"field": {"username": ["x", 1.7, null, true]}}, {"except": {"field": {"dn": "*"}}}]},
        "metadata": {"k": "v"}
    });
    let parsed = RoleMapping::parse(&body).unwrap();
    assert_eq!(
        parsed.to_json(),
        json!({
            "enabled": false,
            "roles": ["a", "b"],
            "rules": {"all": [{"field": {"username": ["x", 1, null, true]}}, {"except": {"field": {"dn": "*"}}}]},
            "metadata": {"k": "v"}
        })
    );
    let templated = RoleMapping::parse(&json!({
        "role_templates": [{"template": {"source": "{{username}}"}, "format": "string"}],
        "rules": {"field": {"username": "*"}}
    }))
    .unwrap();
    assert_eq!(
        templated.to_json(),
        json!({
            "enabled": true,
            "roles": [],
            "role_templates": [{"template": "{\"source\":\"{{username}}\"}", "format": "string"}],
            "rules": {"field": {"username": "*"}},
            "metadata": {}
        })
    );
    // What is rendered parses back to the same mapping.
    let again = RoleMapping::parse(&templated.to_json()).unwrap();
    assert_eq!(again.to_json(), templated.to_json());
}

#[test]
fn templates_produce_role_names() {
    let check = |template: Value, format: &str, expected: &[&str]| {
        let mapping = RoleMapping::parse(&json!({
            "role_templates": [{"template": template, "format": format}],
            "rules": {"field": {"username": "*"}}
        }))
        .unwrap();
        assert_eq!(mapping.roles_for(&user()).unwrap(), expected, "{template}");
    };
    check(
        json!({"source": "_user_{{username}}"}),
        "string",
        &["_user_jdoe"],
    );
    check(
        json!({"source": "{{realm.name}}-{{metadata.uid}}"}),
        "string",
        &["ldap1-u-42"],
    );
    check(
        json!("{\"source\":\"r-{{username}}\"}"),
        "string",
        &["r-jdoe"],
    );
    check(
        json!({"source": "{{#tojson}}groups{{/tojson}}"}),
        "json",
        &[
            "cn=admins,ou=groups,dc=example,dc=com",
            "cn=devs,ou=groups,dc=example,dc=com",
        ],
    );
    check(
        json!({"source": "[{{#metadata.tags}}\"t-{{.}}\",{{/metadata.tags}}\"last\"]"}),
        "json",
        &["t-a", "t-b", "last"],
    );
    check(
        json!({"source": "{{#join}}metadata.tags{{/join}}"}),
        "string",
        &["a,b"],
    );
    check(
        json!({"source": "{{^metadata.missing}}none{{/metadata.missing}}"}),
        "string",
        &["none"],
    );
    check(
        json!({"source": "{{! a comment }}{{{username}}}"}),
        "string",
        &["jdoe"],
    );
    check(
        json!({"source": "{{team}}", "params": {"team": "blue"}}),
        "string",
        &["blue"],
    );
    check(json!({"source": "\"{{username}}\""}), "json", &["jdoe"]);
    // Disabled mappings and rules that do not match grant nothing.
    let disabled = RoleMapping::parse(&json!({
        "enabled": false, "roles": ["r"], "rules": {"field": {"username": "*"}}
    }))
    .unwrap();
    assert!(disabled.roles_for(&user()).unwrap().is_empty());
    let other = RoleMapping::parse(&json!({"roles": ["r"], "rules": {"field": {"username": "x"}}}))
        .unwrap();
    assert!(other.roles_for(&user()).unwrap().is_empty());
    let plain =
        RoleMapping::parse(&json!({"roles": ["r"], "rules": {"field": {"username": "jdoe"}}}))
            .unwrap();
    assert_eq!(plain.roles_for(&user()).unwrap(), ["r"]);
}

#[test]
fn variables_are_json_escaped_unless_triple() {
    let template = Template::compile("{{v}}|{{{v}}}|{{&v}}").unwrap();
    let output = template.render(&json!({"v": "a\"b\\c"})).unwrap();
    assert_eq!(output, "a\\\"b\\\\c|a\"b\\c|a\"b\\c");
}

#[test]
fn templates_are_bounded() {
    for source in [
        "{{#a}}",
        "{{/a}}",
        "{{#a}}{{/b}}",
        "{{x",
        "{{>partial}}",
        "{{=<% %>=}}",
        "{{}}",
    ] {
        assert!(
            matches!(Template::compile(source), Err(Error::IllegalArgument(_))),
            "{source}"
        );
    }
    let deep = "{{#a}}".repeat(MAX_DEPTH + 1) + &"{{/a}}".repeat(MAX_DEPTH + 1);
    assert!(Template::compile(&deep).is_err());
    let nested_ok = "{{#a}}".repeat(MAX_DEPTH) + "x" + &"{{/a}}".repeat(MAX_DEPTH);
    assert!(Template::compile(&nested_ok).is_ok());
    // Nested sections over a list multiply: the output bound stops it.
    let list: Vec<u32> = (0..100).collect();
    let blowup = "{{#l}}".repeat(4) + "xxxxxxxxxx" + &"{{/l}}".repeat(4);
    let err = Template::compile(&blowup)
        .unwrap()
        .render(&json!({"l": list}))
        .unwrap_err();
    assert!(
        err.to_string().contains(&MAX_OUTPUT.to_string()) || err.to_string().contains("nodes"),
        "{err}"
    );
}

#[test]
fn deeply_nested_rules_parse_and_evaluate_without_overflow() {
    let mut rules = json!({"field": {"username": "jdoe"}});
    for _ in 0..100 {
        rules = json!({"all": [rules]});
    }
    assert!(mapping(rules).rules.matches(&user()));
}
