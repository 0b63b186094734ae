//! Forward authentication rules: which application privilege a request that a reverse proxy
//! describes needs.
//!
//! A proxy (nginx `auth_request`, Caddy `forward_auth`, Traefik `ForwardAuth`, Envoy
//! `ext_authz`) asks keyward whether a request may pass. The operator's rules map the request's
//! host, method and path to an application, privileges and a resource; the first rule that
//! matches decides. The request path is normalized first, and a path a proxy and its upstream
//! could read differently (dot segments, encoded slashes, backslashes, NUL) is refused outright,
//! so no rule can be sidestepped by spelling a path another way.

use std::fmt;

use regex::Regex;
use serde_json::Value;

/// What happens to a request no rule covers (`keyward.forward_auth.default`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fallback {
    /// Refused with 403 (the default).
    #[default]
    Deny,
    /// Passes for any valid credential.
    Authenticated,
}

impl Fallback {
    /// Parses `deny` or `authenticated`.
    pub fn parse(text: &str) -> Result<Fallback, String> {
        match text {
            "deny" => Ok(Fallback::Deny),
            "authenticated" => Ok(Fallback::Authenticated),
            other => Err(format!(
                "unknown forward auth default [{other}], expected [deny] or [authenticated]"
            )),
        }
    }
}

/// The compiled rules, in order.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    rules: Vec<Rule>,
    fallback: Fallback,
}

/// One rule: where it applies and what it requires.
#[derive(Clone)]
pub struct Rule {
    /// The rule as the operator wrote it, for logs and audit events: `GET shop.test /api/*`.
    pub description: String,
    host: Option<Regex>,
    /// Upper-case method names; empty means any method.
    methods: Vec<String>,
    path: Regex,
    /// The application whose privileges are checked.
    pub application: String,
    /// Privilege names or action patterns; every one must be held.
    pub privileges: Vec<String>,
    resource: Vec<Piece>,
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rule")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// A piece of a resource template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    /// `{name}`: a segment the path pattern captured.
    Capture(String),
    /// `{path}`: what the path pattern's last `*` matched, or the whole path when the pattern
    /// has no `*`; without a leading slash either way.
    Rest,
    /// `{request_path}`: the whole normalized path.
    RequestPath,
    /// `{host}`: the request's host, lower-cased, without port.
    Host,
    /// `{method}`: the request's method, upper-cased.
    Method,
}

/// The request a proxy asks about.
#[derive(Debug, Clone, Copy)]
pub struct ProxiedRequest<'a> {
    /// The method, as sent.
    pub method: &'a str,
    /// The host, as sent (a port and upper case are allowed).
    pub host: Option<&'a str>,
    /// The URI, as sent: a path with an optional query, or an absolute URI.
    pub uri: &'a str,
}

/// What the rules require of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement<'r> {
    /// The rule at `index` matched: these privileges on this resource.
    Privileges {
        /// The rule's position, from 0.
        index: usize,
        /// The rule.
        rule: &'r Rule,
        /// The resource the request concerns.
        resource: String,
    },
    /// No rule matched; the fallback decides.
    Unmatched(Fallback),
    /// The request is refused whatever the credential: its path is ambiguous.
    Refused(&'static str),
}

impl PartialEq for Rule {
    fn eq(&self, other: &Rule) -> bool {
        self.description == other.description
    }
}

impl Eq for Rule {}

/// The request's normalized parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    /// The method, upper-cased.
    pub method: String,
    /// The host, lower-cased, without port; empty when not sent.
    pub host: String,
    /// The path, percent-decoded, repeated slashes merged.
    pub path: String,
}

impl Rules {
    /// No rules: every request falls to `fallback`.
    pub fn empty(fallback: Fallback) -> Rules {
        Rules {
            rules: Vec::new(),
            fallback,
        }
    }

    /// Compiles rules from their JSON form (an array of objects, each with `path`,
    /// `application`, `privileges` or `privilege`, and optionally `host`, `methods` or `method`,
    /// `resource`). The error names the rule and the field.
    pub fn parse(rules: &Value, fallback: Fallback) -> Result<Rules, String> {
        let items = match rules {
            Value::Null => return Ok(Rules::empty(fallback)),
            Value::Array(items) => items,
            _ => return Err("forward auth rules must be a list of rules".to_owned()),
        };
        let rules = items
            .iter()
            .enumerate()
            .map(|(index, item)| Rule::parse(item).map_err(|err| format!("rule [{index}]: {err}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Rules { rules, fallback })
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What a request no rule covers gets.
    pub fn fallback(&self) -> Fallback {
        self.fallback
    }

    /// What `request` requires, with its normalized parts.
    pub fn requirement(
        &self,
        request: &ProxiedRequest<'_>,
    ) -> (Requirement<'_>, Option<Normalized>) {
        let normalized = match normalize(request) {
            Ok(normalized) => normalized,
            Err(reason) => return (Requirement::Refused(reason), None),
        };
        for (index, rule) in self.rules.iter().enumerate() {
            if let Some(resource) = rule.resource_for(&normalized) {
                return (
                    Requirement::Privileges {
                        index,
                        rule,
                        resource,
                    },
                    Some(normalized),
                );
            }
        }
        (Requirement::Unmatched(self.fallback), Some(normalized))
    }
}

impl Rule {
    fn parse(item: &Value) -> Result<Rule, String> {
        let object = item.as_object().ok_or("a rule must be an object")?;
        for field in object.keys() {
            if !matches!(
                field.as_str(),
                "host"
                    | "method"
                    | "methods"
                    | "path"
                    | "application"
                    | "privilege"
                    | "privileges"
                    | "resource"
            ) {
                return Err(format!("unknown field [{field}]"));
            }
        }
        let text = |field: &str| -> Result<Option<&str>, String> {
            match object.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) if !text.is_empty() => Ok(Some(text)),
                Some(_) => Err(format!("[{field}] must be a non-empty string")),
            }
        };
        let list = |singular: &str, plural: &str| -> Result<Vec<String>, String> {
            let mut out = Vec::new();
            if let Some(one) = text(singular)? {
                out.push(one.to_owned());
            }
            match object.get(plural) {
                None | Some(Value::Null) => {}
                Some(Value::String(one)) if !one.is_empty() => out.push(one.clone()),
                Some(Value::Array(items)) => {
                    for item in items {
                        match item.as_str() {
                            Some(one) if !one.is_empty() => out.push(one.to_owned()),
                            _ => return Err(format!("[{plural}] must list non-empty strings")),
                        }
                    }
                }
                Some(_) => return Err(format!("[{plural}] must be a string or a list of strings")),
            }
            Ok(out)
        };
        let path_pattern = text("path")?.ok_or("[path] is required")?;
        let application = text("application")?.ok_or("[application] is required")?;
        if application.contains(['*', '?']) {
            return Err("[application] must name one application, not a pattern".to_owned());
        }
        let privileges = list("privilege", "privileges")?;
        if privileges.is_empty() {
            return Err("[privileges] must name at least one privilege".to_owned());
        }
        let mut methods: Vec<String> = list("method", "methods")?
            .into_iter()
            .map(|method| method.to_ascii_uppercase())
            .collect();
        if methods.iter().any(|method| method == "*") {
            methods.clear();
        }
        if let Some(bad) = methods
            .iter()
            .find(|method| !method.bytes().all(|byte| byte.is_ascii_alphabetic()))
        {
            return Err(format!("[methods] has an invalid method [{bad}]"));
        }
        let host_pattern = text("host")?;
        let host = host_pattern.map(compile_host).transpose()?;
        let (path, captures) = compile_path(path_pattern)?;
        let resource_text = text("resource")?.unwrap_or("{path}");
        let resource = compile_resource(resource_text, &captures)?;
        let description = format!(
            "{} {}{}",
            if methods.is_empty() {
                "*".to_owned()
            } else {
                methods.join(",")
            },
            host_pattern.map_or(String::new(), |host| format!("{host} ")),
            path_pattern
        );
        Ok(Rule {
            description,
            host,
            methods,
            path,
            application: application.to_owned(),
            privileges,
            resource,
        })
    }

    /// The resource this rule checks for `request`, when the rule applies to it.
    fn resource_for(&self, request: &Normalized) -> Option<String> {
        if !self.methods.is_empty() && !self.methods.contains(&request.method) {
            return None;
        }
        if let Some(host) = &self.host
            && !host.is_match(&request.host)
        {
            return None;
        }
        let captured = self.path.captures(&request.path)?;
        let mut resource = String::new();
        for piece in &self.resource {
            match piece {
                Piece::Text(text) => resource.push_str(text),
                Piece::Capture(name) => {
                    resource.push_str(captured.name(name).map_or("", |found| found.as_str()));
                }
                Piece::Rest => {
                    let rest = captured
                        .name(REST)
                        .map_or(request.path.as_str(), |found| found.as_str());
                    resource.push_str(rest.trim_start_matches('/'));
                }
                Piece::RequestPath => resource.push_str(&request.path),
                Piece::Host => resource.push_str(&request.host),
                Piece::Method => resource.push_str(&request.method),
            }
        }
        Some(resource)
    }
}

/// The capture group of the pattern's last `*`.
const REST: &str = "keyward_rest";
/// Placeholders a resource template may use besides the pattern's own captures.
const BUILT_IN: [&str; 4] = ["path", "request_path", "host", "method"];

/// `*` matches any run of characters, `/` included; `{name}` one non-empty segment.
fn compile_path(pattern: &str) -> Result<(Regex, Vec<String>), String> {
    if !pattern.starts_with('/') && pattern != "*" {
        return Err(format!("[path] [{pattern}] must start with [/]"));
    }
    let stars = pattern.matches('*').count();
    let mut regex = String::from("^");
    let mut captures = Vec::new();
    let mut seen_stars = 0;
    let mut rest = pattern;
    while let Some(at) = rest.find(['*', '{']) {
        regex.push_str(&regex::escape(&rest[..at]));
        if rest[at..].starts_with('*') {
            seen_stars += 1;
            if seen_stars == stars {
                regex.push_str(&format!("(?P<{REST}>.*)"));
            } else {
                regex.push_str(".*");
            }
            rest = &rest[at + 1..];
        } else {
            let end = rest[at..]
                .find('}')
                .ok_or_else(|| format!("[path] [{pattern}] has an unclosed [{{]"))?;
            let name = &rest[at + 1..at + end];
            if name.is_empty()
                || !name
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
                || name.starts_with(|first: char| first.is_ascii_digit())
            {
                return Err(format!(
                    "[path] [{pattern}] has an invalid capture name [{name}]: use letters, digits and [_]"
                ));
            }
            if BUILT_IN.contains(&name) || captures.iter().any(|seen| seen == name) {
                return Err(format!(
                    "[path] [{pattern}] uses the capture name [{name}] twice or as a built-in"
                ));
            }
            regex.push_str(&format!("(?P<{name}>[^/]+)"));
            captures.push(name.to_owned());
            rest = &rest[at + end + 1..];
        }
    }
    regex.push_str(&regex::escape(rest));
    regex.push('$');
    let compiled = Regex::new(&regex).map_err(|err| format!("[path] [{pattern}]: {err}"))?;
    Ok((compiled, captures))
}

/// Elasticsearch-style host patterns: `*` matches any run of characters; case-insensitive.
fn compile_host(pattern: &str) -> Result<Regex, String> {
    let lower = pattern.to_ascii_lowercase();
    let regex = format!(
        "^{}$",
        lower
            .split('*')
            .map(regex::escape)
            .collect::<Vec<_>>()
            .join(".*")
    );
    Regex::new(&regex).map_err(|err| format!("[host] [{pattern}]: {err}"))
}

fn compile_resource(template: &str, captures: &[String]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        if at > 0 {
            pieces.push(Piece::Text(rest[..at].to_owned()));
        }
        let end = rest[at..]
            .find('}')
            .ok_or_else(|| format!("[resource] [{template}] has an unclosed [{{]"))?;
        let name = &rest[at + 1..at + end];
        pieces.push(match name {
            "path" => Piece::Rest,
            "request_path" => Piece::RequestPath,
            "host" => Piece::Host,
            "method" => Piece::Method,
            name if captures.iter().any(|capture| capture == name) => {
                Piece::Capture(name.to_owned())
            }
            name => {
                return Err(format!(
                    "[resource] [{template}] uses [{{{name}}}], which is neither a capture of the path nor one of {{path}}, {{request_path}}, {{host}}, {{method}}"
                ));
            }
        });
        rest = &rest[at + end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// The request's method, host and path as the rules see them; a path that could mean two
/// things to two servers is refused with the reason.
pub fn normalize(request: &ProxiedRequest<'_>) -> Result<Normalized, &'static str> {
    let method = request.method.trim();
    if method.is_empty() || !method.bytes().all(|byte| byte.is_ascii_alphabetic()) {
        return Err("the request method is missing or invalid");
    }
    let host = request.host.map_or(String::new(), |host| {
        let host = host.trim();
        // `[::1]:8080` keeps its brackets; `example.com:8080` loses its port.
        let without_port = if host.starts_with('[') {
            host.split_once(']')
                .map_or(host, |(address, _)| &host[..address.len() + 1])
        } else {
            host.split(':').next().unwrap_or(host)
        };
        without_port.to_ascii_lowercase()
    });
    let mut uri = request.uri.trim();
    for scheme in ["http://", "https://"] {
        if uri.len() > scheme.len() && uri[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let after = &uri[scheme.len()..];
            uri = after.find('/').map_or("/", |slash| &after[slash..]);
        }
    }
    let raw = uri.split(['?', '#']).next().unwrap_or("");
    if !raw.starts_with('/') {
        return Err("the request path must start with [/]");
    }
    let decoded = percent_decode(raw)?;
    let ends_with_slash = decoded.len() > 1 && decoded.ends_with('/');
    let mut path = String::with_capacity(decoded.len());
    for segment in decoded.split('/').filter(|segment| !segment.is_empty()) {
        if segment == "." || segment == ".." {
            return Err("the request path has a [.] or [..] segment");
        }
        path.push('/');
        path.push_str(segment);
    }
    if path.is_empty() || ends_with_slash {
        path.push('/');
    }
    Ok(Normalized {
        method: method.to_ascii_uppercase(),
        host,
        path,
    })
}

fn percent_decode(raw: &str) -> Result<String, &'static str> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' {
            let hex = bytes
                .get(index + 1..index + 3)
                .and_then(|pair| std::str::from_utf8(pair).ok())
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or("the request path has an invalid percent-encoding")?;
            if hex == b'/' || hex == b'\\' || hex == b'%' {
                return Err("the request path has an encoded [/], [\\] or [%]");
            }
            out.push(hex);
            index += 3;
        } else {
            out.push(byte);
            index += 1;
        }
    }
    if out
        .iter()
        .any(|byte| *byte == b'\\' || byte.is_ascii_control())
    {
        return Err("the request path has a [\\] or a control character");
    }
    String::from_utf8(out).map_err(|_| "the request path is not UTF-8 once decoded")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(value: Value) -> Rules {
        Rules::parse(&value, Fallback::Deny).unwrap()
    }

    fn ask<'r>(rules: &'r Rules, method: &str, host: &str, uri: &str) -> Requirement<'r> {
        rules
            .requirement(&ProxiedRequest {
                method,
                host: Some(host),
                uri,
            })
            .0
    }

    fn resource(requirement: Requirement<'_>) -> Option<(usize, String)> {
        match requirement {
            Requirement::Privileges {
                index, resource, ..
            } => Some((index, resource)),
            _ => None,
        }
    }

    #[test]
    fn the_first_matching_rule_decides_and_fills_the_resource() {
        let rules = rules(json!([
            {"methods": ["GET", "head"], "path": "/api/orders/*", "application": "shop",
             "privileges": "read", "resource": "orders/{path}"},
            {"path": "/api/orders/{id}/lines/{line}", "application": "shop",
             "privilege": "write", "resource": "order:{id}:{line}:{method}"},
            {"host": "*.Admin.test", "path": "*", "application": "admin", "privileges": ["all"]}
        ]));
        assert_eq!(
            resource(ask(
                &rules,
                "get",
                "shop.test:8080",
                "/api/orders/42/lines?x=1"
            )),
            Some((0, "orders/42/lines".to_owned()))
        );
        assert_eq!(
            resource(ask(&rules, "POST", "shop.test", "/api/orders/42/lines/7")),
            Some((1, "order:42:7:POST".to_owned()))
        );
        assert_eq!(
            resource(ask(&rules, "DELETE", "x.admin.TEST", "/anything/at/all")),
            Some((2, "anything/at/all".to_owned()))
        );
        assert_eq!(
            ask(&rules, "DELETE", "shop.test", "/api/orders/42"),
            Requirement::Unmatched(Fallback::Deny)
        );
    }

    #[test]
    fn ambiguous_paths_are_refused_and_harmless_spellings_normalized() {
        let rules = rules(json!([
            {"path": "/public/*", "application": "a", "privileges": "read"}
        ]));
        for uri in [
            "/public/../admin",
            "/public/%2e%2e/admin",
            "/public/%2Fadmin",
            "/public/a%5Cb",
            "/public\\admin",
            "/public/%00",
            "/public/%zz",
            "/public/%ff",
            "relative",
        ] {
            assert!(
                matches!(ask(&rules, "GET", "h", uri), Requirement::Refused(_)),
                "{uri}"
            );
        }
        assert_eq!(
            resource(ask(&rules, "GET", "h", "//public///a%20b/")),
            Some((0, "a b/".to_owned()))
        );
        assert_eq!(
            resource(ask(&rules, "GET", "h", "http://other.example/public/x?q")),
            Some((0, "x".to_owned()))
        );
    }

    #[test]
    fn bad_rules_are_refused_with_the_rule_and_field() {
        for (rule, expected) in [
            (json!({"path": "/a"}), "[application] is required"),
            (
                json!({"path": "a", "application": "x", "privileges": "r"}),
                "must start with [/]",
            ),
            (
                json!({"path": "/a/{id", "application": "x", "privileges": "r"}),
                "unclosed",
            ),
            (
                json!({"path": "/a/{id}", "application": "x", "privileges": "r", "resource": "{nope}"}),
                "neither a capture",
            ),
            (
                json!({"path": "/a", "application": "x", "privileges": []}),
                "at least one privilege",
            ),
            (
                json!({"path": "/a", "application": "x*", "privileges": "r"}),
                "not a pattern",
            ),
            (
                json!({"path": "/a", "application": "x", "privileges": "r", "paths": 1}),
                "unknown field [paths]",
            ),
            (
                json!({"path": "/a", "application": "x", "privileges": "r", "methods": ["G T"]}),
                "invalid method",
            ),
        ] {
            let err = Rules::parse(&json!([rule]), Fallback::Deny).unwrap_err();
            assert!(err.starts_with("rule [0]: "), "{err}");
            assert!(err.contains(expected), "{err} should contain {expected}");
        }
    }
}
