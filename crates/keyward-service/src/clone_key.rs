//! `security.clone_api_key`: a new REST key with the privileges of an existing one, for callers
//! that hold only that key's credential (a key cannot derive keys that carry privileges).
//!
//! The source key's credential must authenticate: it is both the template and the proof that
//! the caller holds the key. The clone is the source's twin under a new id and secret: the same
//! role descriptors, owner and owner snapshot; its name is the request's, its expiration and
//! metadata the request's or else the source's, and its metadata always says
//! `_cloned_from: <source id>`.

use keyward_core::ValidationErrors;
use keyward_core::api_key::{validate_metadata, validate_name};
use keyward_core::credential::parse_api_key;
use keyward_core::duration::TimeValue;
use keyward_core::privilege::{ClusterGrant, actions};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::api_keys::{KeyTemplate, expiration_from};
use crate::authn::Authentication;
use crate::{CreatedApiKey, Error, SecurityService};

/// The metadata field naming the key a clone was made from.
pub const CLONED_FROM: &str = "_cloned_from";

/// `security.clone_api_key`.
pub struct CloneApiKey {
    /// The source key's encoded credential (`base64(id:secret)`).
    pub api_key: Option<Zeroizing<String>>,
    /// The clone's name (required).
    pub name: Option<String>,
    /// `None`: the source's expiration; `Some(None)`: never (`null`); `Some(Some(t))`: `t`
    /// from now.
    pub expiration: Option<Option<TimeValue>>,
    /// `None`: the source's metadata; given: replaces it.
    pub metadata: Option<Map<String, Value>>,
}

impl std::fmt::Debug for CloneApiKey {
    // The source credential stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloneApiKey")
            .field("name", &self.name)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

impl SecurityService {
    /// Clones the key whose credential the request carries.
    pub async fn clone_api_key(
        &self,
        subject: &Authentication,
        request: CloneApiKey,
    ) -> Result<CreatedApiKey, Error> {
        self.require_enabled()?;
        let mut errors = ValidationErrors::default();
        if request.api_key.as_ref().is_none_or(|key| key.is_empty()) {
            errors.add("api key credential is required");
        }
        validate_name(request.name.as_deref(), &mut errors);
        if let Some(metadata) = &request.metadata {
            validate_metadata(metadata, &mut errors);
        }
        errors.into_result()?;
        let grant = match subject.permission.check_cluster(actions::CLONE_API_KEY) {
            ClusterGrant::None => return Err(self.deny(subject, actions::CLONE_API_KEY)),
            grant => grant,
        };

        let encoded = request.api_key.as_deref().map_or("", String::as_str);
        let credential = parse_api_key(encoded.as_bytes())
            .map_err(|err| Error::BadRequestStatus(format!("invalid API key credential: {err}")))?;
        let source = self
            .authenticate_api_key(credential)
            .await
            .map_err(|_| Error::Forbidden("Failed to clone API key".to_owned()))?;
        let Some(source_key) = &source.api_key else {
            return Err(Error::Internal(
                "an API key credential authenticated as something else".to_owned(),
            ));
        };
        let Some(stored) = self.inner.store.api_key(&source_key.id).await? else {
            // Invalidated and removed between the two reads.
            return Err(Error::Forbidden("Failed to clone API key".to_owned()));
        };
        // `manage_own_api_key` clones only keys of the caller's own.
        if grant == ClusterGrant::OwnApiKeys && !subject.owns(&stored.creator) {
            return Err(self.deny(subject, actions::CLONE_API_KEY));
        }

        let now = self.now();
        let mut metadata = match request.metadata {
            Some(metadata) => metadata,
            None => stored
                .metadata
                .as_deref()
                .and_then(|text| serde_json::from_str::<Map<String, Value>>(text).ok())
                .unwrap_or_default(),
        };
        metadata.insert(CLONED_FROM.to_owned(), Value::String(stored.id.clone()));
        let expiration = match request.expiration {
            None => stored.expiration,
            Some(None) => None,
            Some(Some(duration)) => Some(expiration_from(now, duration)),
        };
        let template = KeyTemplate {
            name: request.name.unwrap_or_default(),
            expiration,
            role_descriptors: stored.role_descriptors,
            limited_by: stored.limited_by,
            metadata: Some(Value::Object(metadata).to_string()),
            creator: stored.creator,
        };
        self.create_from_template(template, now).await
    }
}
