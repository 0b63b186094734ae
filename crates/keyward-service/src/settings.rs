//! `security.get_settings` / `security.update_settings`: the settings of Elasticsearch's three
//! security indices that a user may change (`index.auto_expand_replicas`,
//! `index.number_of_replicas`).
//!
//! keyward keeps no indices and has no replicas: the values are validated as Elasticsearch
//! validates them, stored (shared by every node on the store) and answered back, and change
//! nothing else. Clients and scripts that set them, as Kibana's upgrade assistant does, work.

use keyward_core::ValidationErrors;
use keyward_core::privilege::actions;
use serde_json::{Map, Value};

use crate::authn::Authentication;
use crate::{Error, SecurityService};

/// The indices, as the API names them.
pub const SECURITY_SETTINGS_INDICES: [&str; 3] =
    ["security", "security-tokens", "security-profile"];
/// The settings a user may change.
const ALLOWED: [&str; 2] = ["index.auto_expand_replicas", "index.number_of_replicas"];
/// Where the changed values are kept.
const META_KEY: &str = "security_index_settings";

/// The settings of each index: flat names (`index.number_of_replicas`) to string values.
pub type IndexSettings = Map<String, Value>;

impl SecurityService {
    /// The settings of the three indices, Elasticsearch's defaults overlaid with what was set.
    pub async fn security_settings(
        &self,
        subject: &Authentication,
    ) -> Result<Vec<(&'static str, IndexSettings)>, Error> {
        self.require_full(subject, actions::GET_SECURITY_SETTINGS)?;
        let stored = self.stored_settings().await?;
        Ok(SECURITY_SETTINGS_INDICES
            .iter()
            .map(|index| {
                let mut settings = IndexSettings::new();
                settings.insert(ALLOWED[0].to_owned(), Value::String("0-1".to_owned()));
                settings.insert(ALLOWED[1].to_owned(), Value::String("0".to_owned()));
                if let Some(Value::Object(set)) = stored.get(*index) {
                    settings.extend(set.iter().map(|(k, v)| (k.clone(), v.clone())));
                }
                (*index, settings)
            })
            .collect())
    }

    /// Sets (or, with `null`, resets) settings of the indices named in `update`.
    pub async fn update_security_settings(
        &self,
        subject: &Authentication,
        update: &Map<String, Value>,
    ) -> Result<(), Error> {
        let mut errors = ValidationErrors::default();
        let mut given = 0;
        for index in SECURITY_SETTINGS_INDICES {
            let Some(settings) = update.get(index) else {
                continue;
            };
            let Value::Object(settings) = settings else {
                errors.add(format!("[{index}] must be an object of settings"));
                continue;
            };
            given += settings.len();
            let forbidden: Vec<&str> = settings
                .keys()
                .map(String::as_str)
                .filter(|key| !ALLOWED.contains(key))
                .collect();
            if !forbidden.is_empty() {
                errors.add(format!(
                    "illegal settings for index [{index}]: [{}], these settings may not be configured. Only the following settings may be configured for that index: [{}]",
                    forbidden.join(", "),
                    ALLOWED.join(", ")
                ));
            }
            for (key, value) in settings {
                if ALLOWED.contains(&key.as_str())
                    && !matches!(value, Value::Null | Value::String(_) | Value::Number(_))
                {
                    errors.add(format!(
                        "[{key}] of [{index}] must be a string, a number or null"
                    ));
                }
            }
        }
        if let Some(unknown) = update
            .keys()
            .find(|key| !SECURITY_SETTINGS_INDICES.contains(&key.as_str()))
        {
            errors.add(format!("unknown security index [{unknown}]"));
        }
        if given == 0 && errors.is_empty() {
            errors.add("No settings given to update");
        }
        errors.into_result()?;
        self.require_full(subject, actions::UPDATE_SECURITY_SETTINGS)?;

        let mut stored = self.stored_settings().await?;
        for index in SECURITY_SETTINGS_INDICES {
            let Some(Value::Object(settings)) = update.get(index) else {
                continue;
            };
            let entry = stored
                .entry(index.to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Some(current) = entry.as_object_mut() else {
                continue;
            };
            for (key, value) in settings {
                match value {
                    Value::Null => {
                        current.remove(key);
                    }
                    Value::String(text) => {
                        current.insert(key.clone(), Value::String(text.clone()));
                    }
                    other => {
                        current.insert(key.clone(), Value::String(other.to_string()));
                    }
                }
            }
        }
        self.inner
            .store
            .meta_put(META_KEY, &Value::Object(stored).to_string())
            .await?;
        Ok(())
    }

    async fn stored_settings(&self) -> Result<Map<String, Value>, Error> {
        Ok(self
            .inner
            .store
            .meta(META_KEY)
            .await?
            .and_then(|text| serde_json::from_str::<Map<String, Value>>(&text).ok())
            .unwrap_or_default())
    }
}
