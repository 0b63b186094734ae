//! Role mappings: put, get and delete (`security.*_role_mapping`).
//!
//! Mappings are stored, validated and served; no realm of keyward's applies them (native users,
//! API keys and tokens carry their roles, and Elasticsearch does not map roles for those realms
//! either), so nothing is cached and a write needs no announcement: every read goes to the store.

use keyward_core::privilege::actions;
use keyward_core::role_mapping::RoleMapping;
use keyward_store::RoleMappingRecord;
use serde_json::Value;

use crate::authn::{Authentication, parse_stored};
use crate::{Error, SecurityService};

/// The suffix Elasticsearch reserves for the read-only mappings operators define in files.
const READ_ONLY_SUFFIX: &str = "-read-only-operator-mapping";

impl SecurityService {
    /// Creates or replaces a role mapping; `true` when it was created.
    pub async fn put_role_mapping(
        &self,
        subject: &Authentication,
        name: &str,
        mapping: RoleMapping,
    ) -> Result<bool, Error> {
        if name.ends_with(READ_ONLY_SUFFIX) {
            return Err(Error::Domain(keyward_core::Error::illegal_argument(
                format!(
                    "Invalid mapping name [{name}]. [{READ_ONLY_SUFFIX}] is not an allowed suffix"
                ),
            )));
        }
        self.require_full(subject, actions::PUT_ROLE_MAPPING)?;
        let record = RoleMappingRecord {
            name: name.to_owned(),
            mapping: mapping.to_json().to_string(),
            seq: 0,
        };
        Ok(self.inner.store.put_role_mapping(record).await?)
    }

    /// The named role mappings (unknown names left out), or all of them for `None`, sorted by
    /// name.
    pub async fn get_role_mappings(
        &self,
        subject: &Authentication,
        names: Option<Vec<String>>,
    ) -> Result<Vec<(String, RoleMapping)>, Error> {
        self.require_full(subject, actions::GET_ROLE_MAPPINGS)?;
        let records = self.inner.store.role_mappings(names.as_deref()).await?;
        records
            .into_iter()
            .map(|record| {
                let mapping = stored_mapping(&record)?;
                Ok((record.name, mapping))
            })
            .collect()
    }

    /// Deletes a role mapping; `false` when there was none.
    pub async fn delete_role_mapping(
        &self,
        subject: &Authentication,
        name: &str,
    ) -> Result<bool, Error> {
        self.require_full(subject, actions::DELETE_ROLE_MAPPING)?;
        Ok(self.inner.store.delete_role_mapping(name).await?)
    }
}

fn stored_mapping(record: &RoleMappingRecord) -> Result<RoleMapping, Error> {
    let value: Value = parse_stored(&record.mapping)?;
    RoleMapping::parse(&value).map_err(|err| {
        Error::Internal(format!(
            "stored role mapping [{}] does not parse: {err}",
            record.name
        ))
    })
}
