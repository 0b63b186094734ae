//! Cross-cluster API keys: create and update (reference §8.8, §8.9), and resolving a
//! cross-cluster credential to the role descriptors it grants, as a remote cluster would when a
//! querying cluster connects.
//!
//! A cross-cluster key's permission is exactly its `access`: it stores one `cross_cluster`
//! descriptor and an empty owner snapshot, and it never authenticates REST requests.

use keyward_core::api_key::{
    API_KEY_FORMAT_VERSION, ApiKeyType, is_expired, validate_metadata, validate_name,
};
use keyward_core::credential::{ApiKeyCredential, ApiKeyId, ApiKeySecret, encode_api_key};
use keyward_core::cross_cluster::{
    AUTHENTICATE_ACTION, CrossClusterAccess, certificate_identity_matches,
    validate_certificate_identity,
};
use keyward_core::duration::TimeValue;
use keyward_core::privilege::actions;
use keyward_core::role::RoleDescriptors;
use keyward_core::{EpochMillis, ValidationErrors};
use keyward_store::ApiKeyRecord;
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::api_keys::{CreatedApiKey, creator_of, expiration_from, object, require_user_caller};
use crate::authn::{Authentication, parse_stored};
use crate::{AuthenticationFailure, Error, OsRandom, SecurityService};

/// `security.create_cross_cluster_api_key`.
#[derive(Debug, Clone)]
pub struct CreateCrossClusterApiKey {
    /// The key name (required).
    pub name: Option<String>,
    /// What the querying cluster may search and replicate.
    pub access: CrossClusterAccess,
    /// How long until the key expires; `None` for never.
    pub expiration: Option<TimeValue>,
    /// User metadata.
    pub metadata: Option<Map<String, Value>>,
    /// The pattern the querying cluster's certificate DN must match.
    pub certificate_identity: Option<String>,
}

/// `security.update_cross_cluster_api_key`: every field replaces the stored one when given.
#[derive(Debug, Clone, Default)]
pub struct UpdateCrossClusterApiKey {
    /// Replacement access.
    pub access: Option<CrossClusterAccess>,
    /// Replacement metadata.
    pub metadata: Option<Map<String, Value>>,
    /// New expiration, from now.
    pub expiration: Option<TimeValue>,
    /// `Some(None)` clears the certificate identity, `Some(Some(_))` sets it, `None` keeps it.
    pub certificate_identity: Option<Option<String>>,
}

/// A cross-cluster credential that authenticated: the key and the permission it grants.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossClusterAuthentication {
    /// The key id.
    pub id: String,
    /// The key name.
    pub name: String,
    /// The owner's username.
    pub username: String,
    /// The owner's realm.
    pub realm: String,
    /// When the key expires.
    pub expiration: Option<EpochMillis>,
    /// The key's role descriptors (one, named `cross_cluster`), normalised.
    pub role_descriptors: Map<String, Value>,
    /// The key's access, rebuilt from the descriptor.
    pub access: Map<String, Value>,
    /// The certificate identity pattern the key is bound to, if any.
    pub certificate_identity: Option<String>,
}

impl SecurityService {
    /// Creates a cross-cluster key owned by `subject`. Needs `manage_security`, and a user:
    /// Elasticsearch refuses API-key callers even when their key holds the privilege.
    pub async fn create_cross_cluster_api_key(
        &self,
        subject: &Authentication,
        request: CreateCrossClusterApiKey,
    ) -> Result<CreatedApiKey, Error> {
        self.require_enabled()?;
        request.access.validate()?;
        let mut errors = ValidationErrors::default();
        validate_name(request.name.as_deref(), &mut errors);
        if let Some(metadata) = &request.metadata {
            validate_metadata(metadata, &mut errors);
        }
        errors.into_result()?;
        if let Some(identity) = &request.certificate_identity {
            validate_certificate_identity(identity)?;
        }
        self.require_full(subject, actions::CREATE_CROSS_CLUSTER_API_KEY)?;
        if subject.is_api_key() {
            return Err(Error::illegal_argument(
                "authentication via API key not supported: An API key cannot be used to create a cross-cluster API key",
            ));
        }

        let name = request.name.unwrap_or_default();
        let now = self.now();
        let expiration = request
            .expiration
            .map(|duration| expiration_from(now, duration));
        let mut rng = OsRandom;
        let id = ApiKeyId::generate(&mut rng);
        let secret = ApiKeySecret::generate(&mut rng);
        let hash = self.hash_secret(&secret).await?;
        let record = ApiKeyRecord {
            id: id.as_str().to_owned(),
            name: name.clone(),
            key_type: ApiKeyType::CrossCluster,
            creation: now,
            expiration,
            invalidated: false,
            invalidation: None,
            hash,
            role_descriptors: descriptors_text(&request.access),
            // Elasticsearch stores an empty owner snapshot: the access alone is the permission.
            limited_by: empty_descriptors_text(),
            metadata: request
                .metadata
                .map(|metadata| Value::Object(metadata).to_string()),
            creator: creator_of(subject),
            format_version: API_KEY_FORMAT_VERSION,
            certificate_identity: request.certificate_identity,
            seq: 1,
        };
        self.inner.store.create_api_key(record).await?;
        let encoded = Zeroizing::new(encode_api_key(&id, &secret));
        Ok(CreatedApiKey {
            id,
            name,
            expiration,
            secret,
            encoded,
        })
    }

    /// Updates one of the caller's own cross-cluster keys; `Ok(false)` when nothing needed
    /// changing.
    pub async fn update_cross_cluster_api_key(
        &self,
        subject: &Authentication,
        id: &str,
        request: UpdateCrossClusterApiKey,
    ) -> Result<bool, Error> {
        self.require_enabled()?;
        if let Some(access) = &request.access {
            access.validate()?;
        }
        let mut errors = ValidationErrors::default();
        if let Some(metadata) = &request.metadata {
            validate_metadata(metadata, &mut errors);
        }
        if let Some(expiration) = request.expiration
            && expiration.whole_seconds() <= 0
            && expiration.millis() <= 0
        {
            errors.add("API key expiration must be in the future");
        }
        if request.access.is_none()
            && request.metadata.is_none()
            && request.expiration.is_none()
            && request.certificate_identity.is_none()
        {
            errors.add("must update either [access] or [metadata] for cross-cluster API keys");
        }
        errors.into_result()?;
        if let Some(Some(identity)) = &request.certificate_identity {
            validate_certificate_identity(identity)?;
        }
        self.require_full(subject, actions::UPDATE_CROSS_CLUSTER_API_KEY)?;
        require_user_caller(subject)?;

        self.update_one(subject, id, ApiKeyType::CrossCluster, |stored, now| {
            updated_record(subject, stored, &request, now)
        })
        .await
    }

    /// Resolves a cross-cluster credential, as the remote cluster's interface would, to the
    /// permission it grants. The caller must hold [`AUTHENTICATE_ACTION`] (`manage_security`
    /// does); anything but a valid, unexpired, not invalidated cross-cluster key whose
    /// certificate identity (if any) matches `certificate_dn` is
    /// [`Error::Unauthenticated`].
    pub async fn authenticate_cross_cluster(
        &self,
        subject: &Authentication,
        credential: ApiKeyCredential,
        certificate_dn: Option<&str>,
    ) -> Result<CrossClusterAuthentication, Error> {
        self.require_enabled()?;
        self.require_full(subject, AUTHENTICATE_ACTION)?;
        let id = credential.id.as_str();
        let failed =
            |message: String| Error::Unauthenticated(AuthenticationFailure::ApiKey(message));
        let record = match self.inner.store.api_key(id).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(failed(format!("unable to find apikey with id {id}"))),
            Err(err) => {
                tracing::warn!(api_key_id = id, error = %err, "api key lookup failed");
                return Err(failed(format!(
                    "apikey authentication for id {id} encountered a failure"
                )));
            }
        };
        // The checks run in Elasticsearch's order: invalidation, secret, type, expiry.
        if record.invalidated {
            return Err(failed(format!("api key [{id}] has been invalidated")));
        }
        let verified = self
            .inner
            .verifier
            .verify(credential.secret.expose().as_bytes(), &record.hash)
            .await
            .map_err(|_| Error::Unauthenticated(AuthenticationFailure::Overloaded))?;
        if !verified {
            return Err(failed(format!("invalid credentials for API key [{id}]")));
        }
        if record.key_type != ApiKeyType::CrossCluster {
            return Err(Error::Unauthenticated(AuthenticationFailure::Terminated(
                format!(
                    "authentication expected API key type of [cross_cluster], but API key [{id}] has type [{}]",
                    record.key_type
                ),
            )));
        }
        if is_expired(record.expiration, self.now()) {
            return Err(failed("api key is expired".to_owned()));
        }
        if let Some(pattern) = &record.certificate_identity
            && !certificate_dn.is_some_and(|dn| certificate_identity_matches(pattern, dn))
        {
            return Err(failed(format!(
                "certificate identity of API key [{id}] does not match the presented certificate"
            )));
        }
        let access = stored_access(&record)?;
        Ok(CrossClusterAuthentication {
            role_descriptors: object(&record.role_descriptors)?,
            access: access.to_json(),
            username: record.creator.principal,
            realm: record.creator.realm,
            id: record.id,
            name: record.name,
            expiration: record.expiration,
            certificate_identity: record.certificate_identity,
        })
    }
}

/// The access of a stored cross-cluster key, rebuilt from its descriptor.
pub(crate) fn stored_access(record: &ApiKeyRecord) -> Result<CrossClusterAccess, Error> {
    let descriptors = RoleDescriptors::from_stored(&parse_stored(&record.role_descriptors)?)?;
    CrossClusterAccess::from_role_descriptors(&descriptors).map_err(|err| {
        Error::Internal(format!(
            "cross-cluster API key [{}] is invalid: {err}",
            record.id
        ))
    })
}

fn descriptors_text(access: &CrossClusterAccess) -> String {
    Value::Object(access.to_role_descriptors().to_json()).to_string()
}

fn empty_descriptors_text() -> String {
    Value::Object(Map::new()).to_string()
}

/// The record after `request`, or `None` when it would change nothing (the no-op rules of
/// reference §8.6; the owner snapshot of a cross-cluster key is always empty).
fn updated_record(
    subject: &Authentication,
    stored: &ApiKeyRecord,
    request: &UpdateCrossClusterApiKey,
    now: EpochMillis,
) -> Result<Option<ApiKeyRecord>, Error> {
    let creator = creator_of(subject);
    let stored_descriptors =
        RoleDescriptors::from_stored(&parse_stored(&stored.role_descriptors)?)?;
    let stored_metadata = match &stored.metadata {
        Some(text) => Some(object(text)?),
        None => None,
    };
    let new_descriptors = request
        .access
        .as_ref()
        .map(CrossClusterAccess::to_role_descriptors);
    let noop = stored.format_version == API_KEY_FORMAT_VERSION
        && request.expiration.is_none()
        && stored.creator == creator
        && stored.limited_by == empty_descriptors_text()
        && request
            .metadata
            .as_ref()
            .is_none_or(|metadata| Some(metadata) == stored_metadata.as_ref())
        && new_descriptors
            .as_ref()
            .is_none_or(|descriptors| descriptors.set_equal(&stored_descriptors))
        && request
            .certificate_identity
            .as_ref()
            .is_none_or(|identity| identity == &stored.certificate_identity);
    if noop {
        return Ok(None);
    }
    let mut updated = stored.clone();
    if let Some(expiration) = request.expiration {
        updated.expiration = Some(expiration_from(now, expiration));
    }
    if let Some(access) = &request.access {
        updated.role_descriptors = descriptors_text(access);
    }
    if let Some(metadata) = &request.metadata {
        updated.metadata = Some(Value::Object(metadata.clone()).to_string());
    }
    if let Some(identity) = &request.certificate_identity {
        updated.certificate_identity = identity.clone();
    }
    updated.limited_by = empty_descriptors_text();
    updated.creator = creator;
    updated.format_version = API_KEY_FORMAT_VERSION;
    Ok(Some(updated))
}
