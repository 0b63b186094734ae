//! Users: the reserved users (`elastic` with its bootstrap password, and the other built-in
//! users once they have a password), native users and their API (put, get, delete, enable,
//! disable, change password), and password authentication with a verified-password cache
//! (bcrypt costs tens of milliseconds, far too much to pay per request).

use std::sync::Arc;

use keyward_core::authz::Permission;
use keyward_core::hash::HashAlgorithm;
use keyward_core::native::{
    password_error, password_hash_error, validate_user_metadata, validate_username,
};
use keyward_core::privilege::actions;
use keyward_core::reserved::{RESERVED_USERS, ReservedUser, reserved_user};
use keyward_core::{SecretSource, ValidationErrors};
use keyward_store::{UserChange, UserRecord};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::authn::{Authentication, AuthenticationFailure, Realm, User};
use crate::{Error, OsRandom, SecurityService};

/// The realm of Elasticsearch's built-in users.
pub const RESERVED_REALM: &str = "reserved";

/// The realm name of native users.
pub const NATIVE_REALM: &str = "default_native";

/// The realm type of native users.
const NATIVE_REALM_TYPE: &str = "native";

/// The superuser created on first start.
const ELASTIC: &str = "elastic";

/// Where the `elastic` user's first password comes from.
#[derive(Debug)]
pub enum BootstrapPassword {
    /// `ELASTIC_PASSWORD` was set.
    Given(Zeroizing<String>),
    /// Generate one and hand it back once.
    Generate,
}

/// A new password: in clear (hashed here) or already hashed by the client.
pub enum NewPassword {
    /// The password itself.
    Clear(Zeroizing<String>),
    /// A bcrypt or PBKDF2 hash of it (`password_hash`).
    Hash(Zeroizing<String>),
}

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NewPassword::Clear(_) => f.write_str("NewPassword::Clear(..)"),
            NewPassword::Hash(_) => f.write_str("NewPassword::Hash(..)"),
        }
    }
}

/// `security.put_user`.
#[derive(Debug, Default)]
pub struct PutUser {
    /// The username.
    pub username: String,
    /// The password; required for a new user, kept when absent on an existing one.
    pub password: Option<NewPassword>,
    /// Role names (required).
    pub roles: Option<Vec<String>>,
    /// Full name.
    pub full_name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// User metadata.
    pub metadata: Option<Map<String, Value>>,
    /// Whether the user may authenticate (default true).
    pub enabled: Option<bool>,
}

impl SecurityService {
    /// Creates the `elastic` user on a store that has none. Returns the generated password when
    /// one was generated, so the caller can show it once.
    pub async fn bootstrap(
        &self,
        password: BootstrapPassword,
    ) -> Result<Option<Zeroizing<String>>, Error> {
        if self.inner.store.user(ELASTIC).await?.is_some() {
            return Ok(None);
        }
        let (password, generated) = match password {
            BootstrapPassword::Given(password) => (password, false),
            BootstrapPassword::Generate => (generate_password(), true),
        };
        let hash = self.hash_password(password.clone()).await?;
        let mut record = reserved_record(ELASTIC);
        record.password_hash = hash;
        self.inner.store.put_user(record).await?;
        Ok(generated.then_some(password))
    }

    /// Sets the `elastic` user's password (the `reset-password` command); generates one when
    /// `password` is `None`. Returns the password now in force.
    pub async fn reset_password(
        &self,
        username: &str,
        password: Option<Zeroizing<String>>,
    ) -> Result<Zeroizing<String>, Error> {
        if username != ELASTIC {
            return Err(Error::NotFound(format!("user [{username}] does not exist")));
        }
        let password = match password {
            Some(password) => {
                if let Some(message) = password_error(&password) {
                    return Err(Error::Domain(keyward_core::Error::validation(message)));
                }
                password
            }
            None => generate_password(),
        };
        let change = UserChange {
            password_hash: Some(self.hash_password(password.clone()).await?),
            enabled: None,
        };
        self.change_user(username, change).await?;
        Ok(password)
    }

    /// Creates or replaces a native user; `true` when it was created.
    pub async fn put_user(
        &self,
        subject: &Authentication,
        request: PutUser,
    ) -> Result<bool, Error> {
        let mut errors = ValidationErrors::default();
        if reserved_user(&request.username).is_some() {
            errors.add(format!(
                "user [{}] is reserved and only the password can be changed",
                request.username
            ));
        } else {
            validate_username(&request.username, &mut errors);
        }
        match &request.roles {
            None => errors.add("roles are missing"),
            Some(roles) => {
                for role in roles {
                    keyward_core::native::validate_role_name(role, &mut errors);
                }
            }
        }
        if let Some(metadata) = &request.metadata {
            validate_user_metadata(metadata, &mut errors);
        }
        errors.into_result()?;
        if let Some(password) = &request.password {
            check_password(password, self.inner.config.password_hashing_algorithm)?;
        }
        self.require_full(subject, actions::PUT_USER)?;

        let password_hash = match request.password {
            Some(password) => Some(self.password_hash(password).await?),
            None => None,
        };
        let username = request.username;
        let keep_password = password_hash.is_none();
        let record = UserRecord {
            username: username.clone(),
            password_hash: password_hash.unwrap_or_default(),
            roles: request.roles.unwrap_or_default(),
            full_name: request.full_name,
            email: request.email,
            metadata: Value::Object(request.metadata.unwrap_or_default()).to_string(),
            enabled: request.enabled.unwrap_or(true),
            seq: 0,
        };
        self.write_unit(move |service| async move {
            let store = &service.inner.store;
            // Without a password only the other fields change, in one write: a password
            // changed meanwhile is kept, not overwritten with the one read before.
            let created = if keep_password {
                if !store.update_user_keeping_password(record).await? {
                    return Err(Error::Domain(keyward_core::Error::validation_exception(
                        "password must be specified unless you are updating an existing user",
                    )));
                }
                false
            } else {
                store.put_user(record).await?
            };
            service.inner.users.remove(&username);
            Ok(created)
        })
        .await
    }

    /// The named users (unknown names left out), or every user for `None`: the reserved users
    /// first, in Elasticsearch's order, then the native users sorted by name.
    pub async fn get_users(
        &self,
        subject: &Authentication,
        names: Option<Vec<String>>,
    ) -> Result<Vec<User>, Error> {
        self.require_full(subject, actions::GET_USER)?;
        let stored = self.inner.store.users(names.as_deref()).await?;
        let wanted = |username: &str| {
            names
                .as_ref()
                .is_none_or(|names| names.iter().any(|name| name == username))
        };
        let mut users = Vec::new();
        for reserved in RESERVED_USERS {
            if wanted(reserved.username) {
                let enabled = stored
                    .iter()
                    .find(|record| record.username == reserved.username)
                    .is_none_or(|record| record.enabled);
                users.push(reserved_view(reserved, enabled));
            }
        }
        for record in stored {
            if reserved_user(&record.username).is_none() {
                users.push(user_view(&record));
            }
        }
        Ok(users)
    }

    /// Deletes a native user; `false` when there was none.
    pub async fn delete_user(
        &self,
        subject: &Authentication,
        username: &str,
    ) -> Result<bool, Error> {
        if reserved_user(username).is_some() {
            return Err(Error::illegal_argument(format!(
                "user [{username}] is reserved and cannot be deleted"
            )));
        }
        self.require_full(subject, actions::DELETE_USER)?;
        let username = username.to_owned();
        self.write_unit(move |service| async move {
            let found = service.inner.store.delete_user(&username).await?;
            service.inner.users.remove(&username);
            Ok(found)
        })
        .await
    }

    /// Enables or disables a user.
    pub async fn set_user_enabled(
        &self,
        subject: &Authentication,
        username: &str,
        enabled: bool,
    ) -> Result<(), Error> {
        if subject.user.username == username {
            return Err(Error::illegal_argument(
                "users may not update the enabled status of their own account",
            ));
        }
        self.require_full(subject, actions::SET_ENABLED)?;
        let change = UserChange {
            password_hash: None,
            enabled: Some(enabled),
        };
        if !self.change_user(username, change).await? {
            return Err(Error::Domain(keyward_core::Error::validation_exception(
                format!(
                    "only existing users can be {}",
                    if enabled { "enabled" } else { "disabled" }
                ),
            )));
        }
        Ok(())
    }

    /// Changes a user's password: `username` defaults to the caller. Any user may change its own
    /// password; changing another's needs the privilege.
    pub async fn change_password(
        &self,
        subject: &Authentication,
        username: Option<&str>,
        password: NewPassword,
    ) -> Result<(), Error> {
        let username = username.unwrap_or(&subject.user.username).to_owned();
        check_password(&password, self.inner.config.password_hashing_algorithm)?;
        let own = !subject.is_api_key()
            && subject.user.username == username
            && matches!(
                subject.authentication_realm.realm_type.as_str(),
                RESERVED_REALM | NATIVE_REALM_TYPE
            );
        if !own {
            self.require_full(subject, actions::CHANGE_PASSWORD)?;
        }
        // Checked first so that no slow hash is spent on a user that does not exist; the write
        // below checks again.
        if reserved_user(&username).is_none() && self.inner.store.user(&username).await?.is_none() {
            return Err(user_must_exist());
        }
        let change = UserChange {
            password_hash: Some(self.password_hash(password).await?),
            enabled: None,
        };
        if !self.change_user(&username, change).await? {
            return Err(user_must_exist());
        }
        Ok(())
    }

    /// The hash to store for a checked new password.
    async fn password_hash(&self, password: NewPassword) -> Result<String, Error> {
        match password {
            NewPassword::Clear(password) => self.hash_password(password).await,
            NewPassword::Hash(hash) => Ok(hash.as_str().to_owned()),
        }
    }

    /// Hashes a new password with `xpack.security.authc.password_hashing.algorithm`.
    async fn hash_password(&self, password: Zeroizing<String>) -> Result<String, Error> {
        let algorithm = self.inner.config.password_hashing_algorithm;
        tokio::task::spawn_blocking(move || {
            keyward_core::hash::hash_secret(algorithm, password.as_bytes(), &mut OsRandom)
        })
        .await
        .map_err(|err| Error::Internal(format!("password hashing task failed: {err}")))
    }

    /// Applies `change` to one user (a reserved user's never-stored state counts as stored)
    /// and evicts it from the cache, as one unit; `false` when there is no such user.
    async fn change_user(&self, username: &str, change: UserChange) -> Result<bool, Error> {
        let username = username.to_owned();
        let missing = reserved_user(&username).map(|_| reserved_record(&username));
        self.write_unit(move |service| async move {
            let changed = service
                .inner
                .store
                .change_user(&username, change, missing)
                .await?;
            service.inner.users.remove(&username);
            Ok(changed)
        })
        .await
    }

    /// `security.query_user`: native users matching a query, sorted and paged.
    pub async fn query_users(
        &self,
        subject: &Authentication,
        request: crate::QuerySearch,
    ) -> Result<crate::QueryHits<User>, Error> {
        let search = crate::query::parse_generic(&request, self.now())?;
        self.require_full(subject, actions::QUERY_USER)?;
        // Like Elasticsearch, only native users: the reserved ones are left out.
        let users = self
            .inner
            .store
            .users(None)
            .await?
            .iter()
            .filter(|record| reserved_user(&record.username).is_none())
            .map(user_view)
            .collect();
        Ok(crate::query::run_in_memory(users, &search))
    }

    /// Authenticates a username and password.
    pub(crate) async fn authenticate_password(
        &self,
        username: &str,
        password: &[u8],
    ) -> Result<Arc<Authentication>, AuthenticationFailure> {
        let now = self.now();
        let cache = &self.inner.users;
        if let Some(entry) = cache.get(username, now)
            && entry.matches(&cache.digest(password))
        {
            cache.counters().hit();
            return Ok(entry.authentication.clone());
        }
        let failed = || AuthenticationFailure::User(username.to_owned());
        let _flight = self
            .inner
            .verifier
            .single_flight(username)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        if let Some(entry) = cache.get(username, now)
            && entry.matches(&cache.digest(password))
        {
            cache.counters().hit();
            return Ok(entry.authentication.clone());
        }
        // Read before the store: a change to the user while its password is being verified
        // (disable, delete, new password, new roles) wins over this verification.
        cache.counters().miss();
        let generation = cache.generation();
        let record = match self.inner.store.user(username).await {
            Ok(Some(record)) if record.enabled && !record.password_hash.is_empty() => record,
            Ok(_) => return Err(failed()),
            Err(err) => {
                tracing::warn!(username, error = %err, "user lookup failed");
                return Err(AuthenticationFailure::from_store(&err, failed()));
            }
        };
        let verified = self
            .inner
            .verifier
            .verify(password, &record.password_hash)
            .await
            .map_err(|_| AuthenticationFailure::Overloaded)?;
        if !verified {
            return Err(failed());
        }
        let authentication = match self.authentication_for_user(&record).await {
            Ok(authentication) => Arc::new(authentication),
            Err(err) => {
                tracing::warn!(username, error = %err, "role resolution failed");
                return Err(failed());
            }
        };
        cache.insert(generation, username, password, authentication.clone(), now);
        Ok(authentication)
    }

    pub(crate) async fn authentication_for_user(
        &self,
        record: &UserRecord,
    ) -> Result<Authentication, Error> {
        let (user, realm) = match reserved_user(&record.username) {
            Some(reserved) => (
                reserved_view(reserved, record.enabled),
                Realm {
                    name: RESERVED_REALM.to_owned(),
                    realm_type: RESERVED_REALM.to_owned(),
                },
            ),
            None => (
                user_view(record),
                Realm {
                    name: NATIVE_REALM.to_owned(),
                    realm_type: NATIVE_REALM_TYPE.to_owned(),
                },
            ),
        };
        let permission = self.resolve_roles(&user.roles).await?;
        let realm = Arc::new(realm);
        Ok(Authentication {
            user: Arc::new(user),
            authentication_realm: realm.clone(),
            lookup_realm: realm.clone(),
            owner_realm: realm,
            api_key: None,
            token: false,
            service_token: None,
            permission: Permission::Roles(permission),
        })
    }
}

/// The stored state of a reserved user before anything was set: no password, enabled.
pub(crate) fn reserved_record(username: &str) -> UserRecord {
    let reserved = reserved_user(username);
    UserRecord {
        username: username.to_owned(),
        password_hash: String::new(),
        roles: reserved
            .map(|user| user.roles.iter().map(|role| (*role).to_owned()).collect())
            .unwrap_or_default(),
        full_name: None,
        email: None,
        metadata: Value::Object(reserved.map(ReservedUser::metadata).unwrap_or_default())
            .to_string(),
        enabled: true,
        seq: 0,
    }
}

fn reserved_view(reserved: &ReservedUser, enabled: bool) -> User {
    User {
        username: reserved.username.to_owned(),
        roles: reserved
            .roles
            .iter()
            .map(|role| (*role).to_owned())
            .collect(),
        full_name: None,
        email: None,
        metadata: reserved.metadata(),
        enabled,
    }
}

fn user_view(record: &UserRecord) -> User {
    User {
        username: record.username.clone(),
        roles: record.roles.clone(),
        full_name: record.full_name.clone(),
        email: record.email.clone(),
        metadata: serde_json::from_str::<Map<String, Value>>(&record.metadata).unwrap_or_default(),
        enabled: record.enabled,
    }
}

/// The password rules, before anything is authorized or written.
fn check_password(password: &NewPassword, configured: HashAlgorithm) -> Result<(), Error> {
    match password {
        NewPassword::Clear(password) => match password_error(password) {
            Some(message) => Err(Error::Domain(keyward_core::Error::validation_exception(
                message,
            ))),
            None => Ok(()),
        },
        NewPassword::Hash(hash) => match password_hash_error(hash, configured) {
            Some(message) => Err(Error::illegal_argument(message)),
            None => Ok(()),
        },
    }
}

/// A 20-character password from the OS generator, in the alphabet Elasticsearch's generated
/// passwords use (letters, digits, `*`, `-`, `_`, `=`, `+`).
fn generate_password() -> Zeroizing<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789*-_=+";
    let mut bytes = Zeroizing::new([0u8; 20]);
    OsRandom.fill(bytes.as_mut());
    let mut password = Zeroizing::new(String::with_capacity(20));
    for byte in bytes.iter() {
        // 256 is not a multiple of the alphabet's length; the bias this leaves is negligible for
        // a 20-character password.
        password.push(char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]));
    }
    password
}

fn user_must_exist() -> Error {
    Error::Domain(keyward_core::Error::validation_exception(
        "user must exist in order to change password",
    ))
}
