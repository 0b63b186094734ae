//! Users: the reserved `elastic` superuser, its bootstrap password, password resets, and
//! password authentication with a verified-password cache (bcrypt costs tens of milliseconds, far
//! too much to pay per request).

use std::sync::Arc;

use keyward_core::SecretSource;
use keyward_core::authz::Permission;
use keyward_store::UserRecord;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::authn::{Authentication, AuthenticationFailure, Realm, User};
use crate::{ApiKeyService, Error, OsRandom};

/// The realm of Elasticsearch's built-in users.
pub const RESERVED_REALM: &str = "reserved";

/// The superuser created on first start.
const ELASTIC: &str = "elastic";

/// bcrypt cost for stored passwords: Elasticsearch's default `bcrypt` is cost 10.
const PASSWORD_BCRYPT_COST: u32 = 10;

/// Elasticsearch's minimum password length for native and reserved users.
const MIN_PASSWORD_LENGTH: usize = 6;

/// Where the `elastic` user's first password comes from.
#[derive(Debug)]
pub enum BootstrapPassword {
    /// `ELASTIC_PASSWORD` was set.
    Given(Zeroizing<String>),
    /// Generate one and hand it back once.
    Generate,
}

impl ApiKeyService {
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
        let hash = hash_password(password.clone()).await?;
        self.inner.store.put_user(elastic_record(hash)).await?;
        Ok(generated.then_some(password))
    }

    /// Sets a reserved user's password; generates one when `password` is `None`. Returns the
    /// password now in force.
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
                if password.chars().count() < MIN_PASSWORD_LENGTH {
                    return Err(Error::Domain(keyward_core::Error::validation(format!(
                        "passwords must be at least [{MIN_PASSWORD_LENGTH}] characters long"
                    ))));
                }
                password
            }
            None => generate_password(),
        };
        let hash = hash_password(password.clone()).await?;
        let mut record = match self.inner.store.user(username).await? {
            Some(record) => record,
            None => elastic_record(hash.clone()),
        };
        record.password_hash = hash;
        self.inner.store.put_user(record).await?;
        self.inner.users.remove(username);
        Ok(password)
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
            return Ok(entry.authentication.clone());
        }
        let failed = || AuthenticationFailure::User(username.to_owned());
        let record = match self.inner.store.user(username).await {
            Ok(Some(record)) if record.enabled => record,
            Ok(_) => return Err(failed()),
            Err(err) => {
                tracing::warn!(username, error = %err, "user lookup failed");
                return Err(failed());
            }
        };
        if !crate::authn::verify(password, &record.password_hash).await {
            return Err(failed());
        }
        let authentication = Arc::new(self.authentication_for_user(&record));
        cache.insert(
            username.to_owned(),
            password,
            authentication.clone(),
            None,
            now,
        );
        Ok(authentication)
    }

    fn authentication_for_user(&self, record: &UserRecord) -> Authentication {
        let metadata =
            serde_json::from_str::<Map<String, Value>>(&record.metadata).unwrap_or_default();
        let realm = if record.username == ELASTIC {
            Realm {
                name: RESERVED_REALM.to_owned(),
                realm_type: RESERVED_REALM.to_owned(),
            }
        } else {
            Realm {
                name: "default_native".to_owned(),
                realm_type: "native".to_owned(),
            }
        };
        Authentication {
            user: User {
                username: record.username.clone(),
                roles: record.roles.clone(),
                full_name: record.full_name.clone(),
                email: record.email.clone(),
                metadata,
                enabled: record.enabled,
            },
            authentication_realm: realm.clone(),
            lookup_realm: realm.clone(),
            owner_realm: realm,
            api_key: None,
            permission: Permission::Roles(self.inner.roles.resolve(&record.roles)),
        }
    }
}

fn elastic_record(password_hash: String) -> UserRecord {
    UserRecord {
        username: ELASTIC.to_owned(),
        password_hash,
        roles: vec!["superuser".to_owned()],
        full_name: None,
        email: None,
        metadata: r#"{"_reserved":true}"#.to_owned(),
        enabled: true,
        seq: 0,
    }
}

async fn hash_password(password: Zeroizing<String>) -> Result<String, Error> {
    tokio::task::spawn_blocking(move || bcrypt::hash(password.as_bytes(), PASSWORD_BCRYPT_COST))
        .await
        .map_err(|err| Error::Internal(format!("password hashing task failed: {err}")))?
        .map_err(|err| Error::Internal(format!("password hashing failed: {err}")))
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
