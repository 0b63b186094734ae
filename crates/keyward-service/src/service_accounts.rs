//! Service accounts and their tokens: the built-in accounts (`keyward_core::service_account`),
//! tokens kept in the store ("index" tokens) and tokens read from the `service_tokens` file
//! ("file" tokens), and authentication with either as `Authorization: Bearer <token>`.
//!
//! Only hashes of token secrets are kept; a verified token is cached like a password (a salted
//! digest next to the ready-built subject) until a deletion or a cache clear drops it, here and
//! on every node sharing the store.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyward_core::authz::{Permission, RolePermission};
use keyward_core::hash::{HashAlgorithm, PBKDF2_DEFAULT_ITERATIONS, hash_secret};
use keyward_core::privilege::actions;
use keyward_core::role::{RoleDescriptor, RoleDescriptors};
use keyward_core::service_account::{
    INVALID_TOKEN_NAME, MIN_SECRET_LENGTH, SERVICE_ACCOUNTS, ServiceToken, is_service_account,
    is_valid_token_name, service_account_role,
};
use keyward_core::{SecretSource, ValidationErrors};
use keyward_store::{Change, ServiceTokenRecord};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::authn::{Authentication, AuthenticationFailure, Realm, User};
use crate::{Error, OsRandom, SecurityService};

/// The realm name and type Elasticsearch reports for service account authentication.
pub const SERVICE_ACCOUNT_REALM: &str = "_service_account";

/// Where a service token is kept, as `_authenticate` and the credentials API name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceTokenSource {
    /// In the store (`_service_account_index`).
    Index,
    /// In the `service_tokens` file (`_service_account_file`).
    File,
}

impl ServiceTokenSource {
    /// Elasticsearch's token type name.
    pub fn type_name(self) -> &'static str {
        match self {
            ServiceTokenSource::Index => "_service_account_index",
            ServiceTokenSource::File => "_service_account_file",
        }
    }
}

/// The service token a subject authenticated with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTokenRef {
    /// The token name.
    pub name: String,
    /// Where the token is kept.
    pub source: ServiceTokenSource,
}

/// A request to create a service token.
#[derive(Debug, Clone)]
pub struct CreateServiceToken {
    /// The account's namespace.
    pub namespace: String,
    /// The account's service name.
    pub service: String,
    /// The token name; `None` generates one.
    pub name: Option<String>,
}

/// A created service token: its name and the bearer string, shown once.
pub struct CreatedServiceToken {
    /// The token name.
    pub name: String,
    /// The bearer string.
    pub value: Zeroizing<String>,
}

impl std::fmt::Debug for CreatedServiceToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedServiceToken")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The tokens of one service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceCredentials {
    /// The account, `namespace/service`.
    pub account: String,
    /// Names of the tokens in the store, sorted.
    pub index_tokens: Vec<String>,
    /// Names of the tokens in this node's `service_tokens` file, sorted.
    pub file_tokens: Vec<String>,
}

/// The tokens of the `service_tokens` file: `namespace/service/name` → hash. The binary reads
/// the file and hands the service a new set whenever it changes.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct FileTokens(BTreeMap<String, String>);

impl FileTokens {
    /// The tokens of a file's text, `namespace/service/name:hash` a line; blank lines and lines
    /// starting with `#` are skipped. A line of another shape, or naming an unknown account or
    /// an invalid token name, is an error naming its line number (never its content).
    pub fn parse(text: &str) -> Result<FileTokens, String> {
        let mut tokens = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let invalid = || format!("invalid service token line [{}]", number + 1);
            let (qualified, hash) = line.split_once(':').ok_or_else(invalid)?;
            let (account, name) = qualified.rsplit_once('/').ok_or_else(invalid)?;
            if !is_service_account(account) || !is_valid_token_name(name) || hash.is_empty() {
                return Err(invalid());
            }
            tokens.insert(qualified.to_owned(), hash.to_owned());
        }
        Ok(FileTokens(tokens))
    }

    /// The file's text.
    pub fn render(&self) -> String {
        self.0
            .iter()
            .map(|(qualified, hash)| format!("{qualified}:{hash}\n"))
            .collect()
    }

    /// Adds a token; `false` (nothing changed) when one of that name exists.
    pub fn insert(&mut self, account: &str, name: &str, hash: String) -> bool {
        let qualified = format!("{account}/{name}");
        if self.0.contains_key(&qualified) {
            return false;
        }
        self.0.insert(qualified, hash);
        true
    }

    /// Removes a token; whether there was one.
    pub fn remove(&mut self, account: &str, name: &str) -> bool {
        self.0.remove(&format!("{account}/{name}")).is_some()
    }

    /// Every token as `namespace/service/name`, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    fn hash(&self, account: &str, name: &str) -> Option<&str> {
        self.0.get(&format!("{account}/{name}")).map(String::as_str)
    }

    fn names_of(&self, account: &str) -> Vec<String> {
        let prefix = format!("{account}/");
        self.0
            .keys()
            .filter_map(|qualified| qualified.strip_prefix(&prefix))
            .map(str::to_owned)
            .collect()
    }
}

impl std::fmt::Debug for FileTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// Hashes a new token secret as Elasticsearch does by default (`pbkdf2_stretch`).
pub fn hash_service_token_secret(secret: &str) -> String {
    hash_secret(
        HashAlgorithm::Pbkdf2Stretch {
            iterations: PBKDF2_DEFAULT_ITERATIONS,
        },
        secret.as_bytes(),
        &mut OsRandom,
    )
}

/// A new random token secret (22 base64 characters, as long as Elasticsearch's).
pub fn new_service_token_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; 16]);
    OsRandom.fill(&mut bytes[..]);
    Zeroizing::new(URL_SAFE_NO_PAD.encode(&bytes[..]))
}

/// The file tokens a service holds, swapped whole on reload.
pub(crate) type FileTokenSlot = RwLock<Arc<FileTokens>>;

impl SecurityService {
    /// The built-in service accounts, all or those of one namespace (and service), each with
    /// its role descriptor. Unknown names select nothing.
    pub fn service_accounts(
        &self,
        subject: &Authentication,
        namespace: Option<&str>,
        service: Option<&str>,
    ) -> Result<Vec<(String, RoleDescriptor)>, Error> {
        self.require_full(subject, actions::GET_SERVICE_ACCOUNT)?;
        Ok(SERVICE_ACCOUNTS
            .iter()
            .filter(|principal| {
                let (ns, svc) = principal.split_once('/').unwrap_or((principal, ""));
                namespace.is_none_or(|wanted| wanted == ns)
                    && service.is_none_or(|wanted| wanted == svc)
            })
            .filter_map(|principal| {
                service_account_role(principal).map(|role| ((*principal).to_owned(), role))
            })
            .collect())
    }

    /// Creates a token of a service account in the store.
    pub async fn create_service_token(
        &self,
        subject: &Authentication,
        request: CreateServiceToken,
    ) -> Result<CreatedServiceToken, Error> {
        let name = request.name.unwrap_or_else(generated_token_name);
        let mut errors = ValidationErrors::default();
        if request.namespace.is_empty() {
            errors.add("service account namespace is required");
        }
        if request.service.is_empty() {
            errors.add("service account service-name is required");
        }
        if !is_valid_token_name(&name) {
            errors.add(format!(
                "invalid service token name [{name}]. {INVALID_TOKEN_NAME}"
            ));
        }
        if !errors.is_empty() {
            return Err(keyward_core::Error::Validation(errors).into());
        }
        self.require_full(subject, actions::CREATE_SERVICE_TOKEN)?;
        let account = format!("{}/{}", request.namespace, request.service);
        if !is_service_account(&account) {
            return Err(Error::illegal_argument(format!(
                "service account [{account}] does not exist"
            )));
        }
        let secret = new_service_token_secret();
        let material = Zeroizing::new(secret.as_str().to_owned());
        let hash = tokio::task::spawn_blocking(move || hash_service_token_secret(&material))
            .await
            .map_err(|err| Error::Internal(format!("hashing task failed: {err}")))?;
        let record = ServiceTokenRecord {
            account: account.clone(),
            name: name.clone(),
            hash,
            creation: self.now(),
            creator: subject.user.username.clone(),
            creator_realm: subject.authentication_realm.name.clone(),
        };
        match self.inner.store.create_service_token(record).await {
            Ok(()) => {}
            Err(keyward_store::Error::AlreadyExists(_)) => {
                // Elasticsearch's create-only index request fails on the existing document.
                return Err(Error::VersionConflict(format!(
                    "[service_account_token-{account}/{name}]: version conflict, document already \
                     exists (current version [1])"
                )));
            }
            Err(err) => return Err(err.into()),
        }
        let value = ServiceToken::new(&account, &name, secret).to_bearer();
        Ok(CreatedServiceToken { name, value })
    }

    /// Deletes a token from the store; whether there was one. Takes effect at once here and on
    /// every node sharing the store.
    pub async fn delete_service_token(
        &self,
        subject: &Authentication,
        namespace: &str,
        service: &str,
        name: &str,
    ) -> Result<bool, Error> {
        self.require_full(subject, actions::DELETE_SERVICE_TOKEN)?;
        let account = format!("{namespace}/{service}");
        if !is_service_account(&account) {
            return Ok(false);
        }
        let name = name.to_owned();
        self.write_unit(move |service| async move {
            let deleted = service
                .inner
                .store
                .delete_service_token(&account, &name)
                .await?;
            service.apply_change(&Change::ServiceTokens);
            Ok(deleted)
        })
        .await
    }

    /// The tokens of one service account, in the store and in this node's file.
    pub async fn service_credentials(
        &self,
        subject: &Authentication,
        namespace: &str,
        service: &str,
    ) -> Result<ServiceCredentials, Error> {
        self.require_full(subject, actions::GET_SERVICE_CREDENTIALS)?;
        let account = format!("{namespace}/{service}");
        let index_tokens = if is_service_account(&account) {
            self.inner
                .store
                .service_tokens(&account)
                .await?
                .into_iter()
                .map(|record| record.name)
                .collect()
        } else {
            Vec::new()
        };
        let file_tokens = self.file_tokens().names_of(&account);
        Ok(ServiceCredentials {
            account,
            index_tokens,
            file_tokens,
        })
    }

    /// Drops cached service tokens, here and on every node sharing the store. Elasticsearch
    /// clears by qualified name; keyward clears every cached service token (a superset).
    pub async fn clear_service_token_cache(&self, subject: &Authentication) -> Result<(), Error> {
        self.require_full(subject, actions::CLEAR_SECURITY_CACHE)?;
        self.apply_change(&Change::ServiceTokens);
        self.inner.store.announce(Change::ServiceTokens).await?;
        Ok(())
    }

    /// Replaces the file tokens (after the binary read the `service_tokens` file again); tokens
    /// verified from the old file are forgotten.
    pub fn replace_file_tokens(&self, tokens: FileTokens) {
        let tokens = Arc::new(tokens);
        match self.inner.file_tokens.write() {
            Ok(mut slot) => *slot = tokens,
            Err(poisoned) => *poisoned.into_inner() = tokens,
        }
        self.inner.service_tokens.clear();
    }

    fn file_tokens(&self) -> Arc<FileTokens> {
        match self.inner.file_tokens.read() {
            Ok(slot) => Arc::clone(&slot),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Authenticates a decoded service token: the file's token of that name first, then the
    /// store's, as Elasticsearch does.
    pub(crate) async fn authenticate_service_token(
        &self,
        token: ServiceToken,
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        let failed = || {
            AuthenticationFailure::Terminated(format!(
                "failed to authenticate service account [{}] with token name [{}]",
                token.account, token.name
            ))
        };
        if !is_service_account(&token.account)
            || token.expose_secret().len() < MIN_SECRET_LENGTH
            || !is_valid_token_name(&token.name)
        {
            return Err(failed());
        }
        let secret = token.expose_secret().as_bytes();
        let qualified = format!("{}/{}", token.account, token.name);
        let now = self.now();
        let cache = &self.inner.service_tokens;
        let digest = cache.digest(secret);
        if let Some(entry) = cache.get(&qualified, now)
            && entry.matches(&digest)
        {
            cache.counters().hit();
            return Ok(entry.authentication.clone());
        }
        let _flight = self
            .inner
            .verifier
            .single_flight(&qualified)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        cache.counters().miss();
        // Read before the store: a deletion while the secret is verified wins.
        let generation = cache.generation();
        let file = self.file_tokens();
        let (hash, source) = match file.hash(&token.account, &token.name) {
            Some(hash) => (hash.to_owned(), ServiceTokenSource::File),
            None => match self
                .inner
                .store
                .service_token(&token.account, &token.name)
                .await
            {
                Ok(Some(record)) => (record.hash, ServiceTokenSource::Index),
                Ok(None) => return Err(failed()),
                Err(err) => {
                    tracing::warn!(account = token.account, error = %err, "service token lookup failed");
                    return Err(AuthenticationFailure::from_store(&err, failed()));
                }
            },
        };
        let verified = self
            .inner
            .verifier
            .verify(secret, &hash)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        if !verified {
            return Err(failed());
        }
        let Some(role) = service_account_role(&token.account) else {
            return Err(failed());
        };
        let authentication = Arc::new(service_account_authentication(
            &token.account,
            role,
            ServiceTokenRef {
                name: token.name.clone(),
                source,
            },
        ));
        cache.insert(generation, &qualified, secret, authentication.clone(), now);
        Ok(authentication)
    }
}

/// What a service account authenticates as: its user (no roles, `_elastic_service_account`
/// metadata), the `_service_account` realm, and the permission of its one role descriptor.
fn service_account_authentication(
    account: &str,
    role: RoleDescriptor,
    token: ServiceTokenRef,
) -> Authentication {
    let mut metadata = Map::new();
    metadata.insert("_elastic_service_account".to_owned(), Value::Bool(true));
    let user = User {
        username: account.to_owned(),
        roles: Vec::new(),
        full_name: Some(format!("Service account - {account}")),
        email: None,
        metadata,
        enabled: true,
    };
    let realm = Arc::new(Realm {
        name: SERVICE_ACCOUNT_REALM.to_owned(),
        realm_type: SERVICE_ACCOUNT_REALM.to_owned(),
    });
    let permission = RolePermission::new(RoleDescriptors(vec![(account.to_owned(), role)]));
    Authentication {
        user: Arc::new(user),
        authentication_realm: realm.clone(),
        lookup_realm: realm.clone(),
        owner_realm: realm,
        api_key: None,
        token: false,
        service_token: Some(token),
        permission: Permission::Roles(Arc::new(permission)),
    }
}

/// A name for a token created without one, as Elasticsearch makes them (`token_` and a
/// random id).
fn generated_token_name() -> String {
    let mut bytes = [0u8; 15];
    OsRandom.fill(&mut bytes);
    format!("token_{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_tokens_parse_render_and_refuse_bad_lines() {
        let text = "# comment\n\nelastic/fleet-server/a:{PBKDF2_STRETCH}hash-a\nelastic/kibana/b:{PBKDF2_STRETCH}hash-b\n";
        let tokens = FileTokens::parse(text).unwrap();
        assert_eq!(
            tokens.names().collect::<Vec<_>>(),
            ["elastic/fleet-server/a", "elastic/kibana/b"]
        );
        assert_eq!(tokens.names_of("elastic/fleet-server"), ["a"]);
        assert_eq!(
            tokens.hash("elastic/kibana", "b"),
            Some("{PBKDF2_STRETCH}hash-b")
        );
        assert_eq!(FileTokens::parse(&tokens.render()).unwrap(), tokens);
        for (bad, line) in [
            ("elastic/fleet-server/a", 1),
            ("ok/x:y\n", 1),
            ("elastic/fleet-server/a:h\nelastic/nope/a:secret-ish", 2),
            ("elastic/fleet-server/_a:h", 1),
            ("elastic/fleet-server/a:", 1),
        ] {
            let err = FileTokens::parse(bad).unwrap_err();
            assert_eq!(err, format!("invalid service token line [{line}]"));
        }
        let mut tokens = FileTokens::default();
        assert!(tokens.insert("elastic/fleet-server", "a", "h".to_owned()));
        assert!(!tokens.insert("elastic/fleet-server", "a", "other".to_owned()));
        assert!(tokens.remove("elastic/fleet-server", "a"));
        assert!(!tokens.remove("elastic/fleet-server", "a"));
        assert_eq!(format!("{tokens:?}"), "[]");
    }
}
