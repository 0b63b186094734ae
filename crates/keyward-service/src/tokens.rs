//! Access tokens: `security.get_token` (password, client credentials and refresh grants),
//! `security.invalidate_token`, and authentication of `Bearer` credentials.
//!
//! A token is a random string from the OS generator; the store keeps only its SHA-256 digest
//! (the token carries 256 random bits, so a fast digest is as safe as a slow hash), next to the
//! user it stands for. Each bearer request reads the token from the store, so an invalidation
//! takes effect at once on every node sharing the store.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_core::privilege::actions;
use keyward_core::reserved::reserved_user;
use keyward_core::{EpochMillis, SecretSource, ValidationErrors};
use keyward_store::{TokenRecord, TokenSelector, UpdateOutcome, UserRecord};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::authn::{Authentication, AuthenticationFailure};
use crate::{Error, OsRandom, SecurityService};

/// How long a refresh token can be exchanged, as in Elasticsearch: 24 hours after creation.
const REFRESH_LIFETIME_MILLIS: i64 = 24 * 60 * 60 * 1000;

/// `security.get_token`: the request body, as given.
#[derive(Default)]
pub struct CreateToken {
    /// `grant_type`: `password`, `client_credentials`, `refresh_token` or `_kerberos`.
    pub grant_type: Option<String>,
    /// The user to authenticate (password grant).
    pub username: Option<String>,
    /// Their password (password grant).
    pub password: Option<Zeroizing<String>>,
    /// The refresh token to exchange (refresh grant).
    pub refresh_token: Option<Zeroizing<String>>,
    /// A base64 SPNEGO ticket (`_kerberos` grant).
    pub kerberos_ticket: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for CreateToken {
    // Credentials stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateToken")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// The realm that authenticated the user of an access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRealm {
    /// The realm's name (`default_native`).
    pub name: String,
    /// The realm's type (`native`).
    pub realm_type: String,
}

/// A new access token, as the get-token response shows it.
pub struct CreatedToken {
    /// The access token, to be sent as `Authorization: Bearer <token>`.
    pub access_token: Zeroizing<String>,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token (not issued for client credentials).
    pub refresh_token: Option<Zeroizing<String>>,
    /// The subject the token authenticates as.
    pub authentication: Arc<Authentication>,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken")
            .field("expires_in", &self.expires_in)
            .field("username", &self.authentication.user.username)
            .finish_non_exhaustive()
    }
}

/// `security.invalidate_token`: one token, or every token of a user and/or realm.
#[derive(Default)]
pub struct InvalidateTokens {
    /// An access token.
    pub token: Option<Zeroizing<String>>,
    /// A refresh token.
    pub refresh_token: Option<Zeroizing<String>>,
    /// Every token of users of this realm.
    pub realm_name: Option<String>,
    /// Every token of this user.
    pub username: Option<String>,
}

impl std::fmt::Debug for InvalidateTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InvalidateTokens")
            .field("realm_name", &self.realm_name)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// What an invalidation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidateTokensResult {
    /// Tokens invalidated by this request.
    pub invalidated: u64,
    /// Tokens selected that were already invalidated.
    pub previously_invalidated: u64,
    /// False when a single token was named and no such token exists (Elasticsearch answers 404
    /// with the ordinary body then).
    pub found: bool,
}

impl SecurityService {
    /// Creates an access token (and, except for client credentials, a refresh token).
    pub async fn create_token(
        &self,
        subject: &Authentication,
        request: CreateToken,
    ) -> Result<CreatedToken, Error> {
        validate_create(&request)?;
        let grant_type = request.grant_type.as_deref().unwrap_or_default();
        let action = if grant_type == "refresh_token" {
            actions::REFRESH_TOKEN
        } else {
            actions::CREATE_TOKEN
        };
        self.require_full(subject, action)?;
        let now = self.now();
        match grant_type {
            "password" => {
                let username = request.username.as_deref().unwrap_or_default();
                let password = request.password.as_ref().map_or(&[][..], |p| p.as_bytes());
                let authentication = self
                    .authenticate_password(username, password)
                    .await
                    .map_err(Error::Unauthenticated)?;
                self.issue_token(authentication, true, now).await
            }
            "client_credentials" => {
                if subject.is_api_key() {
                    return Err(Error::BadRequest(
                        "an access token cannot be created for an API key: client_credentials \
                         requires a user's credentials"
                            .to_owned(),
                    ));
                }
                let authentication = Arc::new(Authentication {
                    user: subject.user.clone(),
                    authentication_realm: subject.lookup_realm.clone(),
                    lookup_realm: subject.lookup_realm.clone(),
                    owner_realm: subject.owner_realm.clone(),
                    api_key: None,
                    token: false,
                    service_token: None,
                    permission: subject.permission.clone(),
                });
                self.issue_token(authentication, false, now).await
            }
            "_kerberos" => Err(kerberos_failure(
                request
                    .kerberos_ticket
                    .as_deref()
                    .map_or("", String::as_str),
            )),
            _ => {
                let refresh = request.refresh_token.as_deref().map_or("", String::as_str);
                self.refresh(refresh, now).await
            }
        }
    }

    /// What `security.saml_logout` and `security.oidc_logout` learn before they need their
    /// realm: after authorizing `action`, the refresh token (when given) is invalidated, as
    /// Elasticsearch does first, and the access token is looked up. `None` when the access
    /// token is not one keyward issued; else the realm that authenticated its user.
    pub async fn logout_token_realm(
        &self,
        subject: &Authentication,
        action: &str,
        token: &str,
        refresh_token: Option<&str>,
    ) -> Result<Option<TokenRealm>, Error> {
        self.require_full(subject, action)?;
        if let Some(refresh) = refresh_token {
            self.inner
                .store
                .invalidate_tokens(&TokenSelector::Refresh(token_digest(refresh)))
                .await?;
        }
        let record = self.inner.store.token(&token_digest(token)).await?;
        Ok(record.map(|record| TokenRealm {
            name: record.realm,
            realm_type: record.realm_type,
        }))
    }

    /// Invalidates one token or every token of a user and/or realm.
    pub async fn invalidate_tokens(
        &self,
        subject: &Authentication,
        request: InvalidateTokens,
    ) -> Result<InvalidateTokensResult, Error> {
        let selector = validate_invalidate(request)?;
        self.require_full(subject, actions::INVALIDATE_TOKEN)?;
        let single = !matches!(selector, TokenSelector::Owner { .. });
        let changed = self.inner.store.invalidate_tokens(&selector).await?;
        Ok(InvalidateTokensResult {
            invalidated: changed.invalidated,
            previously_invalidated: changed.previously_invalidated,
            found: !single || changed.invalidated + changed.previously_invalidated > 0,
        })
    }

    /// Authenticates an access token presented as `Authorization: Bearer <token>`.
    pub(crate) async fn authenticate_token(
        &self,
        token: &str,
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        let digest = token_digest(token);
        let record = match self.inner.store.token(&digest).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(AuthenticationFailure::Unsupported),
            Err(err) => {
                tracing::warn!(error = %err, "token lookup failed");
                return Err(AuthenticationFailure::from_store(
                    &err,
                    AuthenticationFailure::Unsupported,
                ));
            }
        };
        // The lookup already matched the digest; comparing again in constant time keeps the
        // decision itself free of timing differences.
        if !bool::from(record.access_hash.as_bytes().ct_eq(digest.as_bytes())) {
            return Err(AuthenticationFailure::Unsupported);
        }
        // Elasticsearch reports an invalidated token as expired.
        if record.invalidated || record.expiration <= self.now() {
            return Err(AuthenticationFailure::TokenExpired);
        }
        let authentication = match self.token_user(&record.username).await {
            Ok(Some(user)) => self.authentication_for_user(&user).await,
            Ok(None) => return Err(AuthenticationFailure::Unsupported),
            Err(err) => Err(err),
        };
        match authentication {
            Ok(authentication) => Ok(Arc::new(Authentication {
                token: true,
                ..authentication
            })),
            Err(err) => {
                tracing::warn!(username = record.username, error = %err, "token user lookup failed");
                Err(AuthenticationFailure::Unsupported)
            }
        }
    }

    /// The enabled user a token stands for, if it still exists.
    async fn token_user(&self, username: &str) -> Result<Option<UserRecord>, Error> {
        let record = match self.inner.store.user(username).await? {
            Some(record) => Some(record),
            None if reserved_user(username).is_some() => {
                Some(crate::users::reserved_record(username))
            }
            None => None,
        };
        Ok(record.filter(|record| record.enabled))
    }

    async fn issue_token(
        &self,
        authentication: Arc<Authentication>,
        with_refresh: bool,
        now: EpochMillis,
    ) -> Result<CreatedToken, Error> {
        let (record, created) = self.new_token(authentication, with_refresh, now);
        self.inner.store.create_token(record).await?;
        Ok(created)
    }

    fn new_token(
        &self,
        authentication: Arc<Authentication>,
        with_refresh: bool,
        now: EpochMillis,
    ) -> (TokenRecord, CreatedToken) {
        let timeout = self.inner.config.token_timeout;
        let access_token = random_token();
        let refresh_token = with_refresh.then(random_token);
        let record = TokenRecord {
            access_hash: token_digest(&access_token),
            refresh_hash: refresh_token.as_deref().map(|token| token_digest(token)),
            username: authentication.user.username.clone(),
            realm: authentication.lookup_realm.name.clone(),
            realm_type: authentication.lookup_realm.realm_type.clone(),
            creation: now,
            expiration: now.saturating_add(i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX)),
            invalidated: false,
            refreshed: false,
            seq: 1,
        };
        let created = CreatedToken {
            access_token,
            expires_in: timeout.as_secs(),
            refresh_token,
            authentication,
        };
        (record, created)
    }

    async fn refresh(&self, refresh_token: &str, now: EpochMillis) -> Result<CreatedToken, Error> {
        let invalid_grant = || Error::BadRequest("invalid_grant".to_owned());
        let digest = token_digest(refresh_token);
        let Some(old) = self.inner.store.token_by_refresh(&digest).await? else {
            return Err(invalid_grant());
        };
        let matches = old
            .refresh_hash
            .as_deref()
            .is_some_and(|stored| bool::from(stored.as_bytes().ct_eq(digest.as_bytes())));
        if !matches
            || old.invalidated
            || old.refreshed
            || old.creation.saturating_add(REFRESH_LIFETIME_MILLIS) <= now
        {
            return Err(invalid_grant());
        }
        let Some(user) = self.token_user(&old.username).await? else {
            return Err(invalid_grant());
        };
        let authentication = Arc::new(self.authentication_for_user(&user).await?);
        let (record, created) = self.new_token(authentication, true, now);
        match self
            .inner
            .store
            .refresh_token(&digest, old.seq, record)
            .await?
        {
            UpdateOutcome::Updated => Ok(created),
            UpdateOutcome::Conflict => Err(invalid_grant()),
        }
    }
}

/// Hex SHA-256 of a token: what the store keeps and looks up.
fn token_digest(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// 32 random bytes from the OS generator, URL-safe base64 without padding.
fn random_token() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    OsRandom.fill(&mut bytes[..]);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// Elasticsearch's checks of a create-token request, with its wording.
fn validate_create(request: &CreateToken) -> Result<(), Error> {
    let mut errors = ValidationErrors::default();
    let has_username = request
        .username
        .as_deref()
        .is_some_and(|name| !name.is_empty());
    let has_password = request.password.as_deref().is_some_and(|p| !p.is_empty());
    let has_refresh = request
        .refresh_token
        .as_deref()
        .is_some_and(|token| !token.is_empty());
    let has_ticket = request
        .kerberos_ticket
        .as_deref()
        .is_some_and(|ticket| !ticket.is_empty());
    let unsupported = |errors: &mut ValidationErrors, field: &str, grant: &str| {
        errors.add(format!(
            "{field} is not supported with the {grant} grant_type"
        ));
    };
    // Elasticsearch names an unexpected ticket first for the password grant.
    if request.kerberos_ticket.is_some() && request.grant_type.as_deref() == Some("password") {
        unsupported(&mut errors, "kerberos_ticket", "password");
    }
    match request.grant_type.as_deref() {
        Some("_kerberos") => {
            for (field, present) in [
                ("username", request.username.is_some()),
                ("password", request.password.is_some()),
                ("refresh_token", request.refresh_token.is_some()),
            ] {
                if present {
                    unsupported(&mut errors, field, "_kerberos");
                }
            }
            if !has_ticket {
                errors.add("kerberos_ticket is missing");
            }
        }
        Some("password") => {
            if !has_username {
                errors.add("username is missing");
            }
            if !has_password {
                errors.add("password is missing");
            }
            if request.refresh_token.is_some() {
                errors.add("refresh_token is not supported with the password grant_type");
            }
        }
        Some("refresh_token") => {
            if request.username.is_some() {
                errors.add("username is not supported with the refresh_token grant_type");
            }
            if request.password.is_some() {
                errors.add("password is not supported with the refresh_token grant_type");
            }
            if request.kerberos_ticket.is_some() {
                unsupported(&mut errors, "kerberos_ticket", "refresh_token");
            }
            if !has_refresh {
                errors.add("refresh_token is missing");
            }
        }
        Some("client_credentials") => {
            for (field, present) in [
                ("username", request.username.is_some()),
                ("password", request.password.is_some()),
                ("kerberos_ticket", request.kerberos_ticket.is_some()),
                ("refresh_token", request.refresh_token.is_some()),
            ] {
                if present {
                    errors.add(format!(
                        "{field} is not supported with the client_credentials grant_type"
                    ));
                }
            }
        }
        Some(other) => errors.add(format!("grant_type [{other}] is not supported")),
        None => errors.add("grant_type is missing"),
    }
    Ok(errors.into_result()?)
}

/// The answer to a `_kerberos` grant: keyward has no Kerberos realm, so a ticket Elasticsearch
/// could decode reaches no realm that takes it, and Elasticsearch answers the 401 of a token no
/// realm authenticates (the principal of a Kerberos token is `<Kerberos Token>`).
fn kerberos_failure(ticket: &str) -> Error {
    if base64::engine::general_purpose::STANDARD
        .decode(ticket.as_bytes())
        .is_err()
    {
        return Error::illegal_argument(
            "could not decode base64 kerberos ticket: the ticket is not valid base64",
        );
    }
    Error::Unauthenticated(AuthenticationFailure::Terminated(format!(
        "unable to authenticate user [<Kerberos Token>] for action [{}]",
        actions::CREATE_TOKEN
    )))
}

/// Elasticsearch's checks of an invalidate-token request; what it selects.
fn validate_invalidate(request: InvalidateTokens) -> Result<TokenSelector, Error> {
    let text = |value: Option<String>| value.filter(|value| !value.trim().is_empty());
    let token = request.token.filter(|value| !value.trim().is_empty());
    let refresh = request
        .refresh_token
        .filter(|value| !value.trim().is_empty());
    let realm = text(request.realm_name);
    let username = text(request.username);
    if token.is_some() && refresh.is_some() {
        return Err(Error::illegal_argument(
            "only one of [token, refresh_token] may be sent per request",
        ));
    }
    let mut errors = ValidationErrors::default();
    if realm.is_some() || username.is_some() {
        if token.is_some() || refresh.is_some() {
            errors
                .add("token string must not be provided when realm name or username is specified");
        }
        errors.into_result()?;
        return Ok(TokenSelector::Owner { username, realm });
    }
    match (token, refresh) {
        (Some(token), _) => Ok(TokenSelector::Access(token_digest(&token))),
        (None, Some(refresh)) => Ok(TokenSelector::Refresh(token_digest(&refresh))),
        (None, None) => {
            errors.add(
                "token string must be provided when not specifying a realm name or a username",
            );
            errors.into_result()?;
            Err(Error::Internal("an empty validation passed".to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_hex_sha256() {
        assert_eq!(
            token_digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_are_43_url_safe_characters_and_differ() {
        let (a, b) = (random_token(), random_token());
        assert_eq!(a.len(), 43);
        assert!(
            a.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(*a, *b);
    }

    fn create(grant_type: Option<&str>, username: bool, password: bool, refresh: bool) -> String {
        let request = CreateToken {
            grant_type: grant_type.map(str::to_owned),
            username: username.then(|| "u".to_owned()),
            password: password.then(|| Zeroizing::new("p".to_owned())),
            refresh_token: refresh.then(|| Zeroizing::new("r".to_owned())),
            kerberos_ticket: None,
        };
        match validate_create(&request) {
            Ok(()) => "ok".to_owned(),
            Err(err) => err.to_string(),
        }
    }

    #[test]
    fn create_requests_are_validated_per_grant_type() {
        assert_eq!(create(Some("password"), true, true, false), "ok");
        assert_eq!(
            create(Some("client_credentials"), false, false, false),
            "ok"
        );
        assert_eq!(create(Some("refresh_token"), false, false, true), "ok");
        assert_eq!(
            create(None, false, false, false),
            "Validation Failed: 1: grant_type is missing;"
        );
        assert_eq!(
            create(Some("_kerberos"), true, false, false),
            "Validation Failed: 1: username is not supported with the _kerberos grant_type;2: kerberos_ticket is missing;"
        );
        assert_eq!(
            create(Some("password"), false, false, true),
            "Validation Failed: 1: username is missing;2: password is missing;3: refresh_token is not supported with the password grant_type;"
        );
        assert_eq!(
            create(Some("client_credentials"), true, false, false),
            "Validation Failed: 1: username is not supported with the client_credentials grant_type;"
        );
    }

    #[test]
    fn invalidate_requests_select_one_target() {
        let token = |text: &str| Some(Zeroizing::new(text.to_owned()));
        let both = InvalidateTokens {
            token: token("a"),
            refresh_token: token("b"),
            ..InvalidateTokens::default()
        };
        assert_eq!(
            validate_invalidate(both).unwrap_err().to_string(),
            "only one of [token, refresh_token] may be sent per request"
        );
        let mixed = InvalidateTokens {
            token: token("a"),
            username: Some("u".to_owned()),
            ..InvalidateTokens::default()
        };
        assert!(
            validate_invalidate(mixed)
                .unwrap_err()
                .to_string()
                .contains(
                    "token string must not be provided when realm name or username is specified"
                )
        );
        assert!(
            validate_invalidate(InvalidateTokens::default())
                .unwrap_err()
                .to_string()
                .contains("token string must be provided")
        );
        let by_user = InvalidateTokens {
            username: Some("u".to_owned()),
            ..InvalidateTokens::default()
        };
        assert_eq!(
            validate_invalidate(by_user).unwrap(),
            TokenSelector::Owner {
                username: Some("u".to_owned()),
                realm: None
            }
        );
    }
}
