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

/// `security.grant_api_key`.
pub struct GrantApiKey {
    /// `grant_type`, `None` when missing; `Err` carries an unknown value.
    pub grant_type: Option<Result<GrantType, String>>,
    /// The grantee's username (password grants).
    pub username: Option<String>,
    /// The grantee's password (password grants).
    pub password: Option<Zeroizing<String>>,
    /// The grantee's access token (token grants).
    pub access_token: Option<Zeroizing<String>>,
    /// Whether `client_authentication` was given (only JWT access tokens accept it).
    pub client_authentication: bool,
    /// Create the key for this user, whom the grantee may run as.
    pub run_as: Option<String>,
    /// The key to create, as in a create request.
    pub api_key: CreateApiKey,
}

impl std::fmt::Debug for GrantApiKey {
    // Credentials stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantApiKey")
            .field("grant_type", &self.grant_type)
            .field("username", &self.username)
            .field("run_as", &self.run_as)
            .finish_non_exhaustive()
    }
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
        validate_grant(&request, &mut errors);
        validate_create(&request.api_key, &mut errors);
        errors.into_result()?;
        self.require_full(subject, actions::GRANT_API_KEY)?;

        let grantee = match request.grant_type {
            Some(Ok(GrantType::Password)) => {
                let username = request.username.as_deref().unwrap_or_default();
                let password = request.password.as_ref().map_or(&[][..], |p| p.as_bytes());
                self.authenticate_password(username, password)
                    .await
                    .map_err(grant_failed)?
            }
            // Only JWTs take client authentication, and keyward's tokens are not JWTs; like
            // Elasticsearch, this is refused before the token is looked at.
            _ if request.client_authentication => {
                return Err(Error::BadRequest(
                    "[client_authentication] not supported with the supplied access_token type"
                        .to_owned(),
                ));
            }
            _ => {
                let token = request.access_token.as_deref().map_or("", String::as_str);
                self.authenticate_token(token).await.map_err(grant_failed)?
            }
        };
        let owner: Arc<Authentication> = match &request.run_as {
            Some(target) => self.run_as_for_grant(&grantee, target).await?,
            None => grantee,
        };
        self.create_owned_by(&owner, request.api_key).await
    }

    /// The user the grantee runs as: the grantee's roles must name them in `run_as`, and they
    /// must exist and be enabled.
    async fn run_as_for_grant(
        &self,
        grantee: &Authentication,
        target: &str,
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
                "action [{}] is unauthorized for user [{}] with effective roles [{}], because user [{}] is unauthorized to run as [{target}]",
                actions::GRANT_API_KEY,
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

fn validate_grant(request: &GrantApiKey, errors: &mut ValidationErrors) {
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
            required("username", "password", request.username.is_some(), errors);
            required("password", "password", request.password.is_some(), errors);
            unsupported(
                "access_token",
                "password",
                request.access_token.is_some(),
                errors,
            );
        }
        Some(Ok(GrantType::AccessToken)) => {
            required(
                "access_token",
                "access_token",
                request.access_token.is_some(),
                errors,
            );
            unsupported(
                "username",
                "access_token",
                request.username.is_some(),
                errors,
            );
            unsupported(
                "password",
                "access_token",
                request.password.is_some(),
                errors,
            );
        }
    }
}
