//! Turns the request's `Authorization` header into an authenticated subject, or into the 401
//! Elasticsearch would send.

use std::sync::Arc;

use axum::http::{HeaderMap, header};
use keyward_core::credential::{CredentialError, parse_authorization};
use keyward_service::{ApiKeyService, Authentication, AuthenticationFailure};

use crate::error::EsError;

/// Authenticates the request; `uri` (path and query) goes into failure reasons.
pub(crate) async fn authenticate(
    service: &ApiKeyService,
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
