//! `security.grant_api_key`: a caller holding `grant_api_key` creates a key on behalf of another
//! user, proving that user's consent with their credentials (reference §8.2).

use std::sync::Arc;

use keyward_core::ValidationErrors;
use keyward_core::automaton::Automaton;
use keyward_core::privilege::actions;
use zeroize::Zeroizing;

use crate::api_keys::validate_create;
use crate::authn::{Authentication, AuthenticationFailure};
use crate::{CreateApiKey, CreatedApiKey, Error, SecurityService};

/// How the grantee proves who they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    /// `username` and `password`.
    Password,
    /// An access token from `security.get_token`.
    AccessToken,
}

/// The grantee's credentials, shared by `security.grant_api_key` and
/// `security.bulk_grant_api_key`.
pub struct Grant {
    /// `grant_type`, `None` when missing; `Err` carries an unknown value.
    pub grant_type: Option<Result<GrantType, String>>,
    /// The grantee's username (password grants).
    pub username: Option<String>,
    /// The grantee's password (password grants).
    pub password: Option<Zeroizing<String>>,
    /// The grantee's access token (token grants).
    pub access_token: Option<Zeroizing<String>>,
    /// `client_authentication.scheme`, when `client_authentication` was given (only JWT access
    /// tokens accept it, with the `SharedSecret` scheme).
    pub client_authentication: Option<String>,
    /// Create the keys for this user, whom the grantee may run as.
    pub run_as: Option<String>,
}

impl std::fmt::Debug for Grant {
    // Credentials stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Grant")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .field("run_as", &self.run_as)
            .finish_non_exhaustive()
    }
}

/// `security.grant_api_key`.
#[derive(Debug)]
pub struct GrantApiKey {
    /// Who the key is for, and their proof.
    pub grant: Grant,
    /// The key to create, as in a create request.
    pub api_key: CreateApiKey,
}

/// `security.bulk_grant_api_key`: one grant, many keys.
#[derive(Debug)]
pub struct BulkGrantApiKeys {
    /// Who the keys are for, and their proof (checked once).
    pub grant: Grant,
    /// The keys to create, each as in a create request.
    pub api_keys: Vec<CreateApiKey>,
}

/// The most keys one bulk grant creates: each costs a secret hash, so the request's work is
/// bounded by this rather than by the body size alone.
pub const BULK_GRANT_LIMIT: usize = 10_000;

/// The validation error of a bulk grant of `count` keys, more than [`BULK_GRANT_LIMIT`].
pub fn too_many_to_grant(count: usize) -> String {
    format!("[api_keys] must not hold more than {BULK_GRANT_LIMIT} keys, got [{count}]")
}

impl SecurityService {
    /// Creates a key owned by the user the grant's credentials authenticate.
    pub async fn grant_api_key(
        &self,
        subject: &Authentication,
        request: GrantApiKey,
    ) -> Result<CreatedApiKey, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        validate_grant(&request.grant, &mut errors);
        validate_create(&request.api_key, &mut errors);
        errors.into_result()?;
        self.require_full(subject, actions::GRANT_API_KEY)?;
        let owner = self.grantee(&request.grant, actions::GRANT_API_KEY).await?;
        self.create_owned_by(&owner, request.api_key).await
    }

    /// Creates every key of the request, owned by the user the grant's credentials
    /// authenticate (checked once), written together: all of them or, on a failure, none.
    pub async fn bulk_grant_api_keys(
        &self,
        subject: &Authentication,
        request: BulkGrantApiKeys,
    ) -> Result<Vec<CreatedApiKey>, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        if request.api_keys.is_empty() {
            errors.add("[api_keys] must not be empty");
        } else if request.api_keys.len() > BULK_GRANT_LIMIT {
            errors.add(too_many_to_grant(request.api_keys.len()));
        } else {
            for api_key in &request.api_keys {
                validate_create(api_key, &mut errors);
            }
        }
        validate_grant(&request.grant, &mut errors);
        errors.into_result()?;
        self.require_full(subject, actions::BULK_GRANT_API_KEY)?;
        let owner = self
            .grantee(&request.grant, actions::BULK_GRANT_API_KEY)
            .await?;
        self.create_many_owned_by(&owner, request.api_keys).await
    }

    /// The owner of granted keys: the user the grant's credentials authenticate, or the user
    /// they run as.
    async fn grantee(&self, grant: &Grant, action: &str) -> Result<Arc<Authentication>, Error> {
        let grantee = self.grant_credentials(grant).await?.map_err(grant_failed)?;
        match &grant.run_as {
            Some(target) => self.run_as_for_grant(&grantee, target, action).await,
            None => Ok(grantee),
        }
    }

    /// The user a grant's credentials authenticate (user profile activation takes the failure
    /// as it is: a 401 naming the user).
    pub(crate) async fn authenticate_grant(
        &self,
        grant: &Grant,
    ) -> Result<Arc<Authentication>, Error> {
        self.grant_credentials(grant)
            .await?
            .map_err(Error::Unauthenticated)
    }

    /// Authenticates a validated grant's credentials.
    async fn grant_credentials(
        &self,
        grant: &Grant,
    ) -> Result<Result<Arc<Authentication>, AuthenticationFailure>, Error> {
        Ok(match grant.grant_type {
            Some(Ok(GrantType::Password)) => {
                let username = grant.username.as_deref().unwrap_or_default();
                let password = grant.password.as_ref().map_or(&[][..], |p| p.as_bytes());
                self.authenticate_password(username, password).await
            }
            // Only JWTs take client authentication, and keyward's tokens are not JWTs; like
            // Elasticsearch, this is refused before the token is looked at.
            _ if grant.client_authentication.is_some() => {
                return Err(Error::BadRequest(
                    "[client_authentication] not supported with the supplied access_token type"
                        .to_owned(),
                ));
            }
            _ => {
                let token = grant.access_token.as_deref().map_or("", String::as_str);
                self.authenticate_token(token).await
            }
        })
    }

    /// The user the grantee runs as: the grantee's roles must name them in `run_as`, and they
    /// must exist and be enabled.
    async fn run_as_for_grant(
        &self,
        grantee: &Authentication,
        target: &str,
        action: &str,
    ) -> Result<Arc<Authentication>, Error> {
        let allowed = grantee
            .permission
            .role_descriptors()
            .is_some_and(|descriptors| {
                let patterns = descriptors
                    .0
                    .iter()
                    .flat_map(|(_, descriptor)| descriptor.run_as.iter());
                Automaton::from_patterns(patterns).is_ok_and(|automaton| automaton.matches(target))
            });
        let denied = || {
            Error::Forbidden(format!(
                "action [{action}] is unauthorized for user [{}] with effective roles [{}], because user [{}] is unauthorized to run as [{target}]",
                grantee.user.username,
                grantee.user.roles.join(","),
                grantee.user.username,
            ))
        };
        if !allowed {
            return Err(denied());
        }
        let record = match self.inner.store.user(target).await? {
            Some(record) if record.enabled => record,
            _ => return Err(denied()),
        };
        Ok(Arc::new(self.authentication_for_user(&record).await?))
    }
}

fn grant_failed(failure: AuthenticationFailure) -> Error {
    if failure == AuthenticationFailure::Overloaded {
        return Error::Unauthenticated(failure);
    }
    Error::Forbidden("Failed to authenticate api key grant".to_owned())
}

pub(crate) fn validate_grant(request: &Grant, errors: &mut ValidationErrors) {
    // An empty string counts as missing, as Elasticsearch counts it.
    let given = |value: Option<&str>| value.is_some_and(|value| !value.is_empty());
    let username = given(request.username.as_deref());
    let password = given(request.password.as_deref().map(String::as_str));
    let access_token = given(request.access_token.as_deref().map(String::as_str));
    let required = |field: &str, kind: &str, present: bool, errors: &mut ValidationErrors| {
        if !present {
            errors.add(format!("[{field}] is required for grant_type [{kind}]"));
        }
    };
    let unsupported = |field: &str, kind: &str, present: bool, errors: &mut ValidationErrors| {
        if present {
            errors.add(format!(
                "[{field}] is not supported for grant_type [{kind}]"
            ));
        }
    };
    match &request.grant_type {
        None => errors.add("[grant_type] is required"),
        Some(Err(other)) => errors.add(format!("grant_type [{other}] is not supported")),
        Some(Ok(GrantType::Password)) => {
            required("username", "password", username, errors);
            required("password", "password", password, errors);
            unsupported("access_token", "password", access_token, errors);
            if request.client_authentication.is_some() {
                errors.add("[client_authentication] is not supported for grant_type [password]");
            }
        }
        Some(Ok(GrantType::AccessToken)) => {
            required("access_token", "access_token", access_token, errors);
            unsupported("username", "access_token", username, errors);
            unsupported("password", "access_token", password, errors);
            if let Some(scheme) = &request.client_authentication
                && scheme.trim() != "SharedSecret"
            {
                errors.add("[client_authentication.scheme] must be set to [SharedSecret]");
            }
        }
    }
}
