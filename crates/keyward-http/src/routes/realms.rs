//! The APIs of realms keyward does not have — SAML (`security.saml_*`), OpenID Connect
//! (`security.oidc_*`) and PKI delegation (`security.delegate_pki`) — and node and Kibana
//! enrollment (`security.enroll_*`). Each answers as Elasticsearch answers when no such realm
//! is configured, or enrollment is disabled: the body is read and validated as Elasticsearch
//! reads it, the caller's privileges are checked, then the realm is not found.
//!
//! Elasticsearch's order is kept: its REST handler parses the body, the transport action
//! validates the request, the authorization filter checks the privilege, and only then does the
//! action look for its realm.

use base64::Engine as _;
use http::StatusCode;
use keyward_core::ValidationErrors;
use keyward_core::privilege::actions;
use serde_json::Value;

use super::{Ctx, Reply};
use crate::error::EsError;
use crate::wire::{ObjectReader, require_body};

/// `security.saml_prepare_authentication` (`POST /_security/saml/prepare`).
pub(crate) async fn saml_prepare_authentication(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "saml_prepare_authn")?;
    let acs = reader.string("acs")?;
    let realm = reader.string("realm")?;
    let relay_state = reader.string("relay_state")?;
    reader.finish()?;
    authorize(ctx, actions::SAML_PREPARE)?;
    Err(saml_error(format!(
        "Cannot find any matching realm for [SamlPrepareAuthenticationRequest{{realmName={}, \
         assertionConsumerServiceURL={}, relayState={}}}]",
        java(realm.as_deref()),
        java(acs.as_deref()),
        java(relay_state.as_deref()),
    )))
}

/// `security.saml_authenticate` (`POST /_security/saml/authenticate`).
pub(crate) async fn saml_authenticate(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "saml_authenticate")?;
    let content = reader.string("content")?;
    reader.strings("ids")?;
    reader.string("realm")?;
    reader.finish()?;
    // Elasticsearch decodes the content (whitespace removed) before it authenticates.
    let content: String = content
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    if base64::engine::general_purpose::STANDARD
        .decode(content.as_bytes())
        .is_err()
    {
        return Err(EsError::illegal_argument(
            "the SAML content is not valid base64",
        ));
    }
    authorize(ctx, actions::SAML_AUTHENTICATE)?;
    Err(no_realm_takes(
        "<unauthenticated-saml-user>",
        actions::SAML_AUTHENTICATE,
    ))
}

/// `security.saml_logout` (`POST /_security/saml/logout`).
pub(crate) async fn saml_logout(ctx: &Ctx<'_>) -> Reply {
    match logout_token_realm(ctx, "saml_logout", actions::SAML_LOGOUT).await? {
        None => Err(invalid_token()),
        // The token's user was authenticated by a realm that is not a SAML realm.
        Some(realm) => Err(saml_error(format!(
            "Authenticating realm {{{}/{}}} is not a SAML realm",
            realm.realm_type, realm.name
        ))),
    }
}

/// The logout APIs' common part: their body (`token`, `refresh_token`, read by the parser
/// `parser`), the refresh token invalidated, and the realm that authenticated the access token's
/// user (`None`: the token is not valid).
async fn logout_token_realm(
    ctx: &Ctx<'_>,
    parser: &'static str,
    action: &str,
) -> Result<Option<keyward_service::TokenRealm>, EsError> {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, parser)?;
    let token = reader.string("token")?;
    let refresh_token = reader.string("refresh_token")?;
    reader.finish()?;
    let token = required(token, "token is missing")?;
    Ok(ctx
        .state
        .service
        .logout_token_realm(&ctx.subject, action, &token, refresh_token.as_deref())
        .await?)
}

/// `security.saml_invalidate` (`POST /_security/saml/invalidate`).
pub(crate) async fn saml_invalidate(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "saml_invalidate_session")?;
    let query_string = string_either(&mut reader, "query_string", "queryString")?;
    let acs = reader.string("acs")?;
    let realm = reader.string("realm")?;
    reader.finish()?;
    let query_string = required(query_string, "queryString is missing")?;
    authorize(ctx, actions::SAML_INVALIDATE)?;
    Err(saml_error(format!(
        "Cannot find any matching realm for [SamlInvalidateSessionRequest{{realmName='{}', \
         assertionConsumerServiceURL='{}', url-query={} chars}}]",
        java(realm.as_deref()),
        java(acs.as_deref()),
        query_string.encode_utf16().count(),
    )))
}

/// `security.saml_complete_logout` (`POST /_security/saml/complete_logout`).
pub(crate) async fn saml_complete_logout(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "saml_complete_logout")?;
    let query_string = string_either(&mut reader, "query_string", "queryString")?;
    let content = reader.string("content")?;
    reader.strings("ids")?;
    let realm = reader.string("realm")?;
    reader.finish()?;
    let mut errors = ValidationErrors::default();
    match (&query_string, &content) {
        (None, None) => errors.add("queryString and content may not both be empty"),
        (Some(_), Some(_)) => errors.add("queryString and content may not both present"),
        _ => {}
    }
    if realm.as_deref().is_none_or(str::is_empty) {
        errors.add("realm may not be empty");
    }
    errors.into_result()?;
    authorize(ctx, actions::SAML_COMPLETE_LOGOUT)?;
    Err(saml_error(format!(
        "Cannot find any matching realm with name [{}]",
        java(realm.as_deref())
    )))
}

/// `security.saml_service_provider_metadata` (`GET /_security/saml/metadata/{realm_name}`).
pub(crate) async fn saml_service_provider_metadata(ctx: &Ctx<'_>) -> Reply {
    authorize(ctx, actions::SAML_METADATA)?;
    Err(saml_error(format!(
        "Cannot find any matching realm for [{}]",
        ctx.param("realm_name")
    )))
}

/// `security.oidc_prepare_authentication` (`POST /_security/oidc/prepare`).
pub(crate) async fn oidc_prepare_authentication(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "oidc_prepare_authentication")?;
    let realm = reader.string("realm")?;
    let issuer = reader.string("iss")?;
    reader.string("login_hint")?;
    reader.string("state")?;
    reader.string("nonce")?;
    reader.finish()?;
    let has_text =
        |value: &Option<String>| value.as_deref().is_some_and(|text| !text.trim().is_empty());
    let mut errors = ValidationErrors::default();
    if !has_text(&realm) && !has_text(&issuer) {
        errors.add("one of [realm, issuer] must be provided");
    }
    if has_text(&realm) && has_text(&issuer) {
        errors.add("only one of [realm, issuer] can be provided in the same request");
    }
    errors.into_result()?;
    authorize(ctx, actions::OIDC_PREPARE)?;
    let reason = if has_text(&issuer) {
        format!(
            "Cannot find OpenID Connect realm with issuer [{}]",
            java(issuer.as_deref())
        )
    } else {
        format!(
            "Cannot find OpenID Connect realm with name [{}]",
            java(realm.as_deref())
        )
    };
    Err(security_exception(reason))
}

/// `security.oidc_authenticate` (`POST /_security/oidc/authenticate`).
pub(crate) async fn oidc_authenticate(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "oidc_authn")?;
    let redirect_uri = reader.string("redirect_uri")?;
    let state = reader.string("state")?;
    let nonce = reader.string("nonce")?;
    reader.string("realm")?;
    reader.finish()?;
    let mut errors = ValidationErrors::default();
    for (value, message) in [
        (&state, "state parameter is missing"),
        (&nonce, "nonce parameter is missing"),
        (&redirect_uri, "redirect_uri parameter is missing"),
    ] {
        if value.as_deref().is_none_or(str::is_empty) {
            errors.add(message);
        }
    }
    errors.into_result()?;
    authorize(ctx, actions::OIDC_AUTHENTICATE)?;
    Err(no_realm_takes("<OIDC Token>", actions::OIDC_AUTHENTICATE))
}

/// `security.oidc_logout` (`POST /_security/oidc/logout`).
pub(crate) async fn oidc_logout(ctx: &Ctx<'_>) -> Reply {
    match logout_token_realm(ctx, "oidc_logout", actions::OIDC_LOGOUT).await? {
        None => Err(invalid_token()),
        Some(_) => Err(EsError::illegal_argument(
            "Access token is not valid for an OpenID Connect realm",
        )),
    }
}

/// `security.delegate_pki` (`POST /_security/delegate_pki`).
pub(crate) async fn delegate_pki(ctx: &Ctx<'_>) -> Reply {
    let body = require_body(&ctx.body)?;
    let mut reader = ObjectReader::new(&body, "delegate_pki_request")?;
    let chain = reader.value("x509_certificate_chain");
    reader.finish()?;
    let certificates = match chain {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::String(text) => base64::engine::general_purpose::STANDARD
                    .decode(text.as_bytes())
                    .map_err(|_| failed_to_parse_chain()),
                _ => Err(failed_to_parse_chain()),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(failed_to_parse_chain()),
    };
    if certificates.iter().any(|der| !looks_like_certificate(der)) {
        return Err(failed_to_parse_chain());
    }
    let mut errors = ValidationErrors::default();
    if certificates.is_empty() {
        errors.add("certificates chain must not be empty");
    }
    errors.into_result()?;
    authorize(ctx, actions::DELEGATE_PKI)?;
    // No PKI realm has delegation enabled, so none takes the certificate chain: Elasticsearch
    // answers the 401 of a token no realm authenticates, naming the chain's subject.
    Err(EsError::unauthenticated(format!(
        "unable to authenticate the delegated certificate chain for action [{}]: no PKI realm \
         has delegation enabled",
        actions::DELEGATE_PKI
    )))
}

/// `security.enroll_node` (`GET /_security/enroll/node`) and `security.enroll_kibana`
/// (`GET /_security/enroll/kibana`): enrollment is never enabled in keyward, and Elasticsearch
/// refuses these APIs then, before it authorizes the caller.
pub(crate) async fn enroll(_ctx: &Ctx<'_>) -> Reply {
    Err(EsError::new(
        StatusCode::FORBIDDEN,
        "security_exception",
        "Enrollment mode is not enabled. Set [xpack.security.enrollment.enabled] to true, in \
         order to use this API.",
    ))
}

/// Checks the caller's cluster privilege for `action` (403 as for any other action).
fn authorize(ctx: &Ctx<'_>, action: &str) -> Result<(), EsError> {
    Ok(ctx.state.service.require_full(&ctx.subject, action)?)
}

/// A required string of a request whose validation message Elasticsearch gives as `message`.
fn required(value: Option<String>, message: &str) -> Result<String, EsError> {
    match value {
        Some(value) if !value.is_empty() => Ok(value),
        _ => {
            let mut errors = ValidationErrors::default();
            errors.add(message);
            errors.into_result()?;
            Ok(String::new())
        }
    }
}

/// A string field that Elasticsearch's parser also takes under a deprecated name.
fn string_either(
    reader: &mut ObjectReader<'_>,
    name: &'static str,
    deprecated: &'static str,
) -> Result<Option<String>, EsError> {
    let current = reader.string(name)?;
    let old = reader.string(deprecated)?;
    Ok(current.or(old))
}

/// A value as Java's string concatenation prints it (`null` when absent).
fn java(value: Option<&str>) -> &str {
    value.unwrap_or("null")
}

/// Elasticsearch's `ElasticsearchSecurityException` without a status: a 500.
fn security_exception(reason: String) -> EsError {
    EsError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "security_exception",
        reason,
    )
}

/// A SAML failure: a `security_exception` marked as SAML's, which adds nothing to the body.
fn saml_error(reason: String) -> EsError {
    security_exception(reason)
}

/// The answer of Elasticsearch's token service for an access token it cannot find.
fn invalid_token() -> EsError {
    security_exception("supplied token is not valid".to_owned())
}

/// The 401 of a credential no realm takes, as Elasticsearch words it for a transport action.
fn no_realm_takes(principal: &str, action: &str) -> EsError {
    EsError::unauthenticated(format!(
        "unable to authenticate user [{principal}] for action [{action}]"
    ))
}

/// The parser's error for a certificate chain that is not base64 DER certificates.
fn failed_to_parse_chain() -> EsError {
    EsError::x_content("[delegate_pki_request] failed to parse field [x509_certificate_chain]")
}

/// Whether `der` starts like a DER certificate (a SEQUENCE holding a SEQUENCE); keyward does
/// not decode certificates further.
fn looks_like_certificate(der: &[u8]) -> bool {
    matches!(der, [0x30, _, ..]) && der.iter().skip(2).take(4).any(|byte| *byte == 0x30)
}
