//! Turns the request's `Authorization` header into an authenticated subject, or into the 401
//! Elasticsearch would send; then applies the `es-security-runas-user` header, if any.

use std::sync::Arc;

use http::{HeaderMap, header};
use keyward_core::credential::{Credential, CredentialError, parse_authorization};
use keyward_service::{Authentication, AuthenticationFailure, SecurityService};

use crate::audit::{Audit, Principal, RequestInfo};
use crate::error::EsError;
use crate::metrics::{Outcome, RequestMetrics, Scheme};

/// The header naming the user a request runs as.
pub(crate) const RUN_AS_HEADER: &str = "es-security-runas-user";

/// Authenticates the request, then switches to the run-as user if the header names one; `uri`
/// (path and query) goes into failure reasons, `action` into a run-as denial. Each outcome is
/// an audit event.
pub(crate) async fn authenticate(
    service: &SecurityService,
    audit: &Audit,
    request: &RequestInfo<'_>,
    metrics: &RequestMetrics,
    headers: &HeaderMap,
    uri: &str,
    action: &str,
) -> Result<Arc<Authentication>, EsError> {
    let subject = authenticate_credential(service, audit, request, metrics, headers, uri).await?;
    audit.authentication_success(request, &subject).await;
    match headers.get(RUN_AS_HEADER) {
        None => Ok(subject),
        Some(target) => {
            // A name that is not text cannot be a user: it is denied like an unknown one.
            let target = target.to_str().unwrap_or("");
            let result = service.run_as(&subject, target, action).await;
            audit
                .run_as(request, &subject, target, action, result.is_ok())
                .await;
            Ok(result?)
        }
    }
}

async fn authenticate_credential(
    service: &SecurityService,
    audit: &Audit,
    request: &RequestInfo<'_>,
    metrics: &RequestMetrics,
    headers: &HeaderMap,
    uri: &str,
) -> Result<Arc<Authentication>, EsError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        metrics.authenticated(Scheme::Missing, Outcome::Failure);
        audit.anonymous_access_denied(request).await;
        return Err(EsError::authentication_failed(
            &AuthenticationFailure::Missing,
            uri,
        ));
    };
    let credential = match parse_authorization(value.as_bytes()) {
        Ok(credential) => credential,
        Err(err) => {
            let (scheme, cause) = match err {
                CredentialError::InvalidApiKey(cause) => (Scheme::ApiKey, cause),
                CredentialError::InvalidBasic(cause) => (Scheme::Basic, cause),
            };
            metrics.authenticated(scheme, Outcome::Failure);
            audit
                .authentication_failed(request, &Principal::Unknown)
                .await;
            return Err(EsError::authentication_failed(
                &AuthenticationFailure::Malformed(cause),
                uri,
            ));
        }
    };
    let scheme = match &credential {
        Credential::ApiKey(_) => Scheme::ApiKey,
        Credential::Basic(_) => Scheme::Basic,
        Credential::Bearer(_) => Scheme::Bearer,
        Credential::Other => Scheme::Missing,
    };
    // Who the credential claims to be, kept for the audit event of a failure: an API key's id
    // (Elasticsearch issue #83046) or a user name, never the secret.
    let principal = match &credential {
        _ if !audit.is_enabled() => Principal::Unknown,
        Credential::ApiKey(key) => Principal::ApiKey(key.id.as_str().to_owned()),
        Credential::Basic(basic) => Principal::User(basic.username.clone()),
        Credential::Bearer(_) => Principal::Token,
        Credential::Other => Principal::Unknown,
    };
    let result = service.authenticate(credential).await;
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(AuthenticationFailure::Overloaded) => Outcome::Overloaded,
        Err(AuthenticationFailure::Unavailable(_)) => Outcome::Unavailable,
        Err(_) => Outcome::Failure,
    };
    metrics.authenticated(scheme, outcome);
    match result {
        Ok(subject) => Ok(subject),
        Err(failure) => {
            if failure == AuthenticationFailure::Missing {
                audit.anonymous_access_denied(request).await;
            } else {
                audit.authentication_failed(request, &principal).await;
            }
            Err(EsError::authentication_failed(&failure, uri))
        }
    }
}
