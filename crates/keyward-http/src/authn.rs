//! Turns the request's `Authorization` header into an authenticated subject, or into the 401
//! Elasticsearch would send; then applies the `es-security-runas-user` header, if any.

use std::sync::Arc;

use http::{HeaderMap, header};
use keyward_core::credential::{Credential, CredentialError, parse_authorization};
use keyward_service::{Authentication, AuthenticationFailure, SecurityService};

use crate::error::EsError;
use crate::metrics::{Outcome, RequestMetrics, Scheme};

/// The header naming the user a request runs as.
pub(crate) const RUN_AS_HEADER: &str = "es-security-runas-user";

/// Authenticates the request, then switches to the run-as user if the header names one; `uri`
/// (path and query) goes into failure reasons, `action` into a run-as denial.
pub(crate) async fn authenticate(
    service: &SecurityService,
    metrics: &RequestMetrics,
    headers: &HeaderMap,
    uri: &str,
    action: &str,
) -> Result<Arc<Authentication>, EsError> {
    let subject = authenticate_credential(service, metrics, headers, uri).await?;
    match headers.get(RUN_AS_HEADER) {
        None => Ok(subject),
        Some(target) => {
            // A name that is not text cannot be a user: it is denied like an unknown one.
            let target = target.to_str().unwrap_or("");
            Ok(service.run_as(&subject, target, action).await?)
        }
    }
}

async fn authenticate_credential(
    service: &SecurityService,
    metrics: &RequestMetrics,
    headers: &HeaderMap,
    uri: &str,
) -> Result<Arc<Authentication>, EsError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        metrics.authenticated(Scheme::Missing, Outcome::Failure);
        return Err(EsError::authentication_failed(
            &AuthenticationFailure::Missing,
            uri,
        ));
    };
    let credential = parse_authorization(value.as_bytes()).map_err(|err| {
        let (scheme, cause) = match err {
            CredentialError::InvalidApiKey(cause) => (Scheme::ApiKey, cause),
            CredentialError::InvalidBasic(cause) => (Scheme::Basic, cause),
        };
        metrics.authenticated(scheme, Outcome::Failure);
        EsError::authentication_failed(&AuthenticationFailure::Malformed(cause), uri)
    })?;
    let scheme = match &credential {
        Credential::ApiKey(_) => Scheme::ApiKey,
        Credential::Basic(_) => Scheme::Basic,
        Credential::Bearer(_) => Scheme::Bearer,
        Credential::Other => Scheme::Missing,
    };
    let result = service.authenticate(credential).await;
    let outcome = match &result {
        Ok(_) => Outcome::Success,
        Err(AuthenticationFailure::Overloaded) => Outcome::Overloaded,
        Err(AuthenticationFailure::Unavailable(_)) => Outcome::Unavailable,
        Err(_) => Outcome::Failure,
    };
    metrics.authenticated(scheme, outcome);
    result.map_err(|failure| EsError::authentication_failed(&failure, uri))
}
