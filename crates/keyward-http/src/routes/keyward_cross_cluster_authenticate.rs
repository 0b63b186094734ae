//! keyward's internal `POST /_keyward/cross_cluster/_authenticate`: resolves a cross-cluster
//! credential, as a querying cluster presents it to a remote cluster, to the role descriptors it
//! grants. For a gateway or a future remote-cluster listener; see README, "Cross-cluster keys".
//!
//! The request itself is authenticated like any other (its `Authorization` header), and the
//! caller needs the action `cluster:admin/xpack/security/cross_cluster/api_key/authenticate`
//! (`manage_security` grants it), so the endpoint cannot be used to probe keys anonymously.

use http::StatusCode;
use keyward_core::credential::{Credential, CredentialError, parse_authorization};
use keyward_service::AuthenticationFailure;

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{cross_cluster, require_body};

pub(crate) async fn handle(ctx: &Ctx<'_>) -> Reply {
    let (api_key, certificate_dn) = cross_cluster::authenticate_request(&require_body(&ctx.body)?)?;
    // The remote-cluster credential header carries `ApiKey <encoded>`; the bare encoded value is
    // accepted too.
    let header = if api_key.starts_with("ApiKey ") {
        api_key
    } else {
        format!("ApiKey {api_key}")
    };
    let credential = match parse_authorization(header.as_bytes()) {
        Ok(Credential::ApiKey(credential)) => credential,
        Ok(_) => {
            return Err(EsError::authentication_failed(
                &AuthenticationFailure::Missing,
                ctx.path,
            ));
        }
        Err(CredentialError::InvalidApiKey(cause) | CredentialError::InvalidBasic(cause)) => {
            return Err(EsError::authentication_failed(
                &AuthenticationFailure::Malformed(cause),
                ctx.path,
            ));
        }
    };
    let authenticated = ctx
        .state
        .service
        .authenticate_cross_cluster(&ctx.subject, credential, certificate_dn.as_deref())
        .await?;
    Ok((StatusCode::OK, cross_cluster::authenticated(&authenticated)))
}
