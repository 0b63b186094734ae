//! keyward's own `/_keyward/forward_auth` (any method, any path below it): a reverse proxy asks
//! whether the request it describes may pass. 200 with the identity headers and no body when it
//! may, 401
//! (with `WWW-Authenticate`) when the forwarded credential is missing or invalid, 403 when it is
//! valid but lacks the privilege the first matching rule requires.
//!
//! The credential is the forwarded `Authorization` header, authenticated exactly as on any other
//! request (caches, expiry, invalidation); the request it belongs to is read from the headers of
//! the proxy the operator named (`keyward.forward_auth.proxy`), and every audit event of the
//! exchange carries that request's method and URI, not this endpoint's.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use keyward_core::forward_auth::{Fallback, ProxiedRequest, Requirement};
use keyward_service::Authentication;
use serde_json::{Map, Value};

use super::{Action, Answer, Api, BoxError, action_name, intake, request_name};
use crate::audit::RequestInfo;
use crate::error::EsError;
use crate::forward_auth::{ForwardAuthConfig, ProxyKind};

/// The path prefix of the endpoint.
pub(super) const PREFIX: &str = "/_keyward/forward_auth";

/// The action forward-auth decisions are authorized (run-as) and audited under.
pub(super) const FORWARD_AUTH_ACTION: &str = "cluster:admin/keyward/forward_auth";

/// Whether `path` is the endpoint or below it.
pub(super) fn is_forward_auth(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The request the proxy describes, as sent.
struct Described<'a> {
    method: &'a str,
    host: Option<&'a str>,
    /// Path and query.
    uri: std::borrow::Cow<'a, str>,
}

/// Answers one forward-auth request.
pub(super) async fn answer<B>(
    api: &Api,
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    info: &RequestInfo<'_>,
    body: B,
) -> Result<(StatusCode, Answer), EsError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let state = &api.state;
    let config = state.forward_auth.current();
    let Some(proxy) = config.proxy else {
        return Err(forbidden(
            "forward auth is not configured: set [keyward.forward_auth.proxy] to the proxy that sends the requests",
        ));
    };
    let described = describe(proxy, method, path, query, headers)?;
    let (original_path, original_query) = match described.uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (described.uri.as_ref(), None),
    };
    // Every audit event of this exchange names the proxied request.
    let proxied_info = RequestInfo {
        id: info.id,
        origin: info.origin,
        opaque_id: info.opaque_id,
        forwarded_for: info.forwarded_for,
        method: described.method,
        path: original_path,
        query: original_query,
    };
    let action = action_name::action_name(Action::KeywardForwardAuth);
    let subject = crate::authn::authenticate(
        &state.service,
        &state.audit,
        &proxied_info,
        &api.metrics,
        headers,
        &described.uri,
        action,
    )
    .await?;
    // A proxy may send the request's body along (Envoy can): it is read within the limits and
    // ignored, never refused.
    drop(intake::read_body(body, &state.limits).await?);
    let (requirement, _) = config.rules.requirement(&ProxiedRequest {
        method: described.method,
        host: described.host,
        uri: &described.uri,
    });
    let (granted, details) = match &requirement {
        Requirement::Refused(reason) => (false, Details::refused(reason)),
        Requirement::Unmatched(Fallback::Deny) => (false, Details::unmatched()),
        Requirement::Unmatched(Fallback::Authenticated) => (true, Details::unmatched()),
        Requirement::Privileges { rule, resource, .. } => {
            let held = state
                .service
                .holds_application_privileges(
                    &subject,
                    &rule.application,
                    &rule.privileges,
                    resource,
                )
                .await
                .map_err(EsError::from)?;
            let details = Details {
                rule: Some(rule.description.as_str()),
                application: Some(rule.application.as_str()),
                privileges: rule.privileges.join(","),
                resource: Some(resource.as_str()),
                reason: None,
            };
            (held, details)
        }
    };
    state
        .audit
        .forward_auth(
            &proxied_info,
            &subject,
            (
                action,
                request_name::request_name(Action::KeywardForwardAuth),
            ),
            granted,
            &details.fields(),
        )
        .await;
    if !granted {
        return Err(denial(&subject, &described, &details));
    }
    // No body: nginx does not read the body of an `auth_request` answer, and an unread body
    // makes it close the kept-alive connection to keyward after every request.
    Ok((
        StatusCode::OK,
        Answer::Headers(identity_headers(&config, &subject)),
    ))
}

/// Reads the described request from the headers of `proxy`.
fn describe<'a>(
    proxy: ProxyKind,
    method: &'a Method,
    path: &'a str,
    query: Option<&'a str>,
    headers: &'a HeaderMap,
) -> Result<Described<'a>, EsError> {
    let header = |name: &str| -> Result<Option<&'a str>, EsError> {
        match headers.get(name) {
            None => Ok(None),
            Some(value) => value
                .to_str()
                .map(Some)
                .map_err(|_| forbidden(format!("forward auth: the [{name}] header is not text"))),
        }
    };
    let required = |name: &str| -> Result<&'a str, EsError> {
        header(name)?
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                forbidden(format!(
                    "forward auth: the proxy did not send the [{name}] header"
                ))
            })
    };
    Ok(match proxy {
        ProxyKind::Nginx => Described {
            method: required("x-original-method")?,
            host: header("x-forwarded-host")?,
            uri: required("x-original-uri")?.into(),
        },
        ProxyKind::Forwarded => Described {
            method: required("x-forwarded-method")?,
            host: header("x-forwarded-host")?,
            uri: required("x-forwarded-uri")?.into(),
        },
        ProxyKind::Envoy => {
            let rest = &path[PREFIX.len()..];
            let rest = if rest.is_empty() { "/" } else { rest };
            Described {
                method: method.as_str(),
                host: header("host")?,
                uri: match query {
                    Some(query) => format!("{rest}?{query}").into(),
                    None => rest.into(),
                },
            }
        }
    })
}

/// What a decision rested on, for the audit event and the 403's reason.
struct Details<'a> {
    rule: Option<&'a str>,
    application: Option<&'a str>,
    privileges: String,
    resource: Option<&'a str>,
    reason: Option<&'a str>,
}

impl<'a> Details<'a> {
    fn refused(reason: &'a str) -> Details<'a> {
        Details {
            rule: None,
            application: None,
            privileges: String::new(),
            resource: None,
            reason: Some(reason),
        }
    }

    fn unmatched() -> Details<'a> {
        Details {
            rule: None,
            application: None,
            privileges: String::new(),
            resource: None,
            reason: Some("no forward auth rule covers the request"),
        }
    }

    /// The audit event's extra fields.
    fn fields(&self) -> Vec<(&'static str, &str)> {
        let mut fields = Vec::with_capacity(5);
        if let Some(rule) = self.rule {
            fields.push(("forward_auth.rule", rule));
        }
        if let Some(application) = self.application {
            fields.push(("forward_auth.application", application));
            fields.push(("forward_auth.privileges", self.privileges.as_str()));
        }
        if let Some(resource) = self.resource {
            fields.push(("forward_auth.resource", resource));
        }
        if let Some(reason) = self.reason {
            fields.push(("forward_auth.reason", reason));
        }
        fields
    }
}

/// The 403 for a denied request, in Elasticsearch's words where it has them.
fn denial(subject: &Authentication, described: &Described<'_>, details: &Details<'_>) -> EsError {
    let who = match &subject.api_key {
        Some(key) => format!(
            "API key id [{}] of user [{}]",
            key.id, subject.user.username
        ),
        None => format!("user [{}]", subject.user.username),
    };
    let request = format!("{} {}", described.method, described.uri);
    let reason = match (details.application, details.resource) {
        (Some(application), Some(resource)) => format!(
            "action [{request}] is unauthorized for {who}: it requires the privileges [{}] of application [{application}] on resource [{resource}]",
            details.privileges
        ),
        _ => format!(
            "action [{request}] is unauthorized for {who}: {}",
            details.reason.unwrap_or("denied")
        ),
    };
    forbidden(reason)
}

/// A 403 `security_exception`: every refusal of this endpoint that is not a failed
/// authentication.
fn forbidden(reason: impl Into<String>) -> EsError {
    EsError::new(StatusCode::FORBIDDEN, "security_exception", reason)
}

/// The identity headers of a granted request. A value that cannot be a header (a control
/// character) is left out rather than mangled.
fn identity_headers(config: &ForwardAuthConfig, subject: &Authentication) -> HeaderMap {
    let mut headers = HeaderMap::new();
    // Every configured header is sent, empty when it does not apply: a proxy that copies the
    // answer's headers upstream then overwrites one a client sent itself instead of passing
    // the forgery on.
    let mut put = |name: &HeaderName, value: &str| {
        let value = HeaderValue::from_bytes(value.as_bytes())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        headers.insert(name.clone(), value);
    };
    put(&config.headers.user, &subject.user.username);
    put(&config.headers.realm, &subject.owner_realm.name);
    let key = subject.api_key.as_ref();
    put(&config.headers.api_key_id, key.map_or("", |key| &key.id));
    put(
        &config.headers.api_key_name,
        key.map_or("", |key| &key.name),
    );
    if !config.metadata_headers.is_empty() {
        let metadata = key
            .and_then(|key| key.metadata.as_deref())
            .and_then(|metadata| serde_json::from_str::<Map<String, Value>>(metadata).ok())
            .unwrap_or_default();
        for (field, name) in &config.metadata_headers {
            match metadata.get(field) {
                Some(Value::String(text)) => put(name, text),
                Some(Value::Null) | None => put(name, ""),
                Some(other) => put(name, &other.to_string()),
            }
        }
    }
    headers
}
