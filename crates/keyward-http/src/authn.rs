//! Turns the request's `Authorization` header into an authenticated subject, or into the 401
//! Elasticsearch would send; then applies the `es-security-runas-user` header, if any.

use std::sync::Arc;

use http::{HeaderMap, header};
use keyward_core::credential::{CredentialError, parse_authorization};
use keyward_service::{Authentication, AuthenticationFailure, SecurityService};

use crate::error::EsError;

/// The header naming the user a request runs as.
pub(crate) const RUN_AS_HEADER: &str = "es-security-runas-user";

/// Authenticates the request, then switches to the run-as user if the header names one; `uri`
/// (path and query) goes into failure reasons, `action` into a run-as denial.
pub(crate) async fn authenticate(
    service: &SecurityService,
    headers: &HeaderMap,
    uri: &str,
    action: &str,
) -> Result<Arc<Authentication>, EsError> {
    let subject = authenticate_credential(service, headers, uri).await?;
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
    headers: &HeaderMap,
    uri: &str,
) -> Result<Arc<Authentication>, EsError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(EsError::authentication_failed(
            &AuthenticationFailure::Missing,
            uri,
        ));
    };
    let credential = parse_authorization(value.as_bytes()).map_err(|err| {
        let cause = match err {
            CredentialError::InvalidApiKey(cause) | CredentialError::InvalidBasic(cause) => cause,
        };
        EsError::authentication_failed(&AuthenticationFailure::Malformed(cause), uri)
    })?;
    service
        .authenticate(credential)
        .await
        .map_err(|failure| EsError::authentication_failed(&failure, uri))
}
