//! User profiles (`security.*_user_profile*`): activation from a user's credentials, get,
//! update of labels and data with optimistic concurrency, enable and disable, suggest, and the
//! privileges of the users behind profiles; and the `profile_uid` of key owners and users.
//!
//! Profiles decide no authentication or authorization: nothing is cached and no write is
//! announced, every read goes to the store.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use keyward_core::authz::Permission;
use keyward_core::privilege::actions;
use keyward_core::profile::{self, MAX_DIFFERENTIATOR, MAX_SIZE};
use keyward_core::reserved::reserved_user;
use keyward_core::{EpochMillis, ValidationErrors};
use keyward_store::{ProfileRecord, Store, UpdateOutcome};
use serde_json::{Map, Value};

use crate::authn::{Authentication, Realm, User, parse_stored};
use crate::grant::{Grant, validate_grant};
use crate::{ApiKeyInfo, Error, HasPrivileges, NATIVE_REALM, RESERVED_REALM, SecurityService};

/// The primary term every profile reports: keyward's store has no shards to fail over.
pub const PRIMARY_TERM: i64 = 1;

/// The most profiles one suggest request may ask for.
pub const MAX_SUGGEST_SIZE: i64 = 10_000;

/// The most uids one get or has-privileges request may name.
pub(crate) const MAX_UIDS: usize = 10_000;

/// How many profiles a suggest reads from the store at a time.
const SUGGEST_PAGE: usize = 1000;

/// How many times a write over a profile that changed meanwhile is retried.
const WRITE_ATTEMPTS: usize = 10;

/// A profile as the APIs show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// The uid.
    pub uid: String,
    /// Whether the profile is enabled.
    pub enabled: bool,
    /// When the profile was last activated.
    pub last_synchronized: EpochMillis,
    /// The user's username.
    pub username: String,
    /// The user's roles at the last activation.
    pub roles: Vec<String>,
    /// The realm that authenticated the user.
    pub realm_name: String,
    /// The user's email.
    pub email: Option<String>,
    /// The user's full name.
    pub full_name: Option<String>,
    /// The labels.
    pub labels: Map<String, Value>,
    /// The data the request asked for (none unless asked).
    pub data: Map<String, Value>,
    /// `_seq_no`.
    pub seq_no: i64,
    /// `_primary_term`.
    pub primary_term: i64,
}

/// `security.update_user_profile_data`.
#[derive(Debug, Clone, Default)]
pub struct UpdateProfileData {
    /// Labels to merge in.
    pub labels: Option<Map<String, Value>>,
    /// Data to merge in.
    pub data: Option<Map<String, Value>>,
    /// Write only over this `_seq_no`.
    pub if_seq_no: Option<i64>,
    /// Write only over this `_primary_term`.
    pub if_primary_term: Option<i64>,
}

/// `security.suggest_user_profiles`.
#[derive(Debug, Clone, Default)]
pub struct SuggestProfiles {
    /// Text matched against username, full name and email (every enabled profile without it).
    pub name: Option<String>,
    /// How many profiles to return (default 10).
    pub size: Option<i64>,
    /// The `data` filters.
    pub data: Vec<String>,
    /// Profiles ranked higher when named here.
    pub hint_uids: Option<Vec<String>>,
    /// Profiles ranked higher when their labels hold one of these values under the key.
    pub hint_labels: Option<Map<String, Value>>,
}

/// The answer to a suggest.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestedProfiles {
    /// How long the search took, in milliseconds.
    pub took: u64,
    /// How many enabled profiles matched.
    pub total: u64,
    /// The best of them, best first.
    pub profiles: Vec<Profile>,
}

/// The answer to `security.has_privileges_user_profile`.
#[derive(Debug, Default)]
pub struct ProfilePrivileges {
    /// The uids whose users hold every requested privilege, in request order.
    pub has_privilege_uids: Vec<String>,
    /// The uids whose check failed, with why.
    pub errors: Vec<(String, Error)>,
}

impl SecurityService {
    /// Creates the profile of the user the grant's credentials authenticate, or brings theirs
    /// up to date (user details, `last_synchronized`, enabled again).
    pub async fn activate_profile(
        &self,
        subject: &Authentication,
        grant: Grant,
    ) -> Result<Profile, Error> {
        let mut errors = ValidationErrors::default();
        validate_grant(&grant, &mut errors);
        errors.into_result()?;
        self.require_full(subject, actions::ACTIVATE_PROFILE)?;
        let user = self.authenticate_grant(&grant).await?;
        for _ in 0..WRITE_ATTEMPTS {
            if let Some(record) = self.activate_once(&user).await? {
                return to_profile(record, &[]);
            }
        }
        Err(busy())
    }

    /// The profiles with these uids, in request order (repeats once), and the uids not found.
    pub async fn get_profiles(
        &self,
        subject: &Authentication,
        uids: Vec<String>,
        data: &[String],
    ) -> Result<(Vec<Profile>, Vec<String>), Error> {
        check_uid_count(uids.len())?;
        self.require_full(subject, actions::GET_PROFILES)?;
        let mut uids = uids;
        let mut seen = HashSet::new();
        uids.retain(|uid| seen.insert(uid.clone()));
        let mut found = self.profiles_by_uid(&uids).await?;
        let mut profiles = Vec::new();
        let mut missing = Vec::new();
        for uid in uids {
            match found.remove(&uid) {
                Some(record) => profiles.push(to_profile(record, data)?),
                None => missing.push(uid),
            }
        }
        Ok((profiles, missing))
    }

    /// Merges labels and data into a profile.
    pub async fn update_profile_data(
        &self,
        subject: &Authentication,
        uid: &str,
        request: UpdateProfileData,
    ) -> Result<(), Error> {
        let mut errors = ValidationErrors::default();
        if request.labels.is_none() && request.data.is_none() {
            errors.add("update request is empty");
        }
        if let Some(labels) = &request.labels {
            profile::validate_update("labels", labels, &mut errors);
        }
        if let Some(data) = &request.data {
            profile::validate_update("data", data, &mut errors);
        }
        match (request.if_seq_no, request.if_primary_term) {
            (Some(seq_no), _) if seq_no < 0 => {
                errors.add(format!(
                    "sequence numbers must be non negative. got [{seq_no}]"
                ));
            }
            (_, Some(term)) if term <= 0 => {
                errors.add(format!("primary term must be positive. got [{term}]"));
            }
            (Some(_), None) => errors.add("ifSeqNo is set, but primary term is [0]"),
            (None, Some(term)) => {
                errors.add(format!(
                    "ifPrimaryTerm is set to [{term}], but ifSeqNo is not set"
                ));
            }
            _ => {}
        }
        errors.into_result()?;
        self.require_full(subject, actions::UPDATE_PROFILE_DATA)?;
        let expected = request.if_seq_no.zip(request.if_primary_term);
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.stored_profile(uid).await?;
            if let Some((seq_no, term)) = expected
                && (seq_no != current.seq || term != PRIMARY_TERM)
            {
                return Err(version_conflict(uid, seq_no, term, current.seq));
            }
            let mut updated = current.clone();
            if let Some(labels) = request.labels.clone() {
                updated.labels = merged(&current.uid, &current.labels, labels)?;
            }
            if let Some(data) = request.data.clone() {
                updated.data = merged(&current.uid, &current.data, data)?;
            }
            let size = updated.labels.len() + updated.data.len();
            if size > MAX_SIZE {
                return Err(Error::illegal_argument(format!(
                    "cannot update profile [{uid}] because the combined profile size of [{size}] bytes exceeds the maximum of [{MAX_SIZE}] bytes"
                )));
            }
            match self.inner.store.update_profile(updated).await? {
                UpdateOutcome::Updated => return Ok(()),
                // Another write came first: with a required seqNo that is a conflict; without,
                // merge again over what it wrote.
                UpdateOutcome::Conflict => {
                    if let Some((seq_no, term)) = expected {
                        let now = self.stored_profile(uid).await?;
                        return Err(version_conflict(uid, seq_no, term, now.seq));
                    }
                }
            }
        }
        Err(busy())
    }

    /// Enables or disables a profile (a disabled profile is left out of suggestions).
    pub async fn set_profile_enabled(
        &self,
        subject: &Authentication,
        uid: &str,
        enabled: bool,
    ) -> Result<(), Error> {
        self.require_full(subject, actions::SET_PROFILE_ENABLED)?;
        for _ in 0..WRITE_ATTEMPTS {
            let current = self.stored_profile(uid).await?;
            if current.enabled == enabled {
                return Ok(());
            }
            let updated = ProfileRecord { enabled, ..current };
            if self.inner.store.update_profile(updated).await? == UpdateOutcome::Updated {
                return Ok(());
            }
        }
        Err(busy())
    }

    /// The enabled profiles that best match the name, hints ranking them higher.
    pub async fn suggest_profiles(
        &self,
        subject: &Authentication,
        request: SuggestProfiles,
    ) -> Result<SuggestedProfiles, Error> {
        let started = Instant::now();
        let mut errors = ValidationErrors::default();
        let size = request.size.unwrap_or(10);
        if size < 0 {
            errors.add(format!(
                "[size] parameter cannot be negative but was [{size}]"
            ));
        } else if size > MAX_SUGGEST_SIZE {
            errors.add(format!(
                "[size] parameter cannot be larger than [{MAX_SUGGEST_SIZE}] but was [{size}]"
            ));
        }
        if let Some(uids) = &request.hint_uids {
            if uids.is_empty() {
                errors.add("[hint.uids] must not be empty");
            }
            check_uid_count(uids.len())?;
        }
        let label_hint = match &request.hint_labels {
            Some(labels) if labels.len() != 1 => {
                errors.add("[hint.labels] must have exactly one key");
                None
            }
            Some(labels) => labels.iter().next().map(|(key, value)| {
                let values: Vec<String> = match value {
                    Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
                    other => scalar_text(other).into_iter().collect(),
                };
                (key.clone(), values)
            }),
            None => None,
        };
        errors.into_result()?;
        self.require_full(subject, actions::SUGGEST_PROFILES)?;
        let size = usize::try_from(size).unwrap_or(0);
        let terms: Vec<String> = request
            .name
            .as_deref()
            .map(|name| name.split_whitespace().map(str::to_lowercase).collect())
            .unwrap_or_default();
        let hint_uids: HashSet<&str> = request
            .hint_uids
            .iter()
            .flatten()
            .map(String::as_str)
            .collect();

        // (score, record): every match is counted, only the best `size` kept.
        let mut best: Vec<(usize, ProfileRecord)> = Vec::new();
        let mut total = 0u64;
        let mut after: Option<String> = None;
        loop {
            let page = self
                .inner
                .store
                .profiles_page(after.as_deref(), SUGGEST_PAGE)
                .await?;
            let last_page = page.len() < SUGGEST_PAGE;
            after = page.last().map(|record| record.uid.clone());
            for record in page {
                if !record.enabled {
                    continue;
                }
                let matched = name_score(&record, &terms);
                if !terms.is_empty() && matched == 0 {
                    continue;
                }
                total += 1;
                let mut score = matched;
                if hint_uids.contains(record.uid.as_str()) {
                    score += 1;
                }
                if let Some((key, values)) = &label_hint
                    && labels_match(&record, key, values)
                {
                    score += 1;
                }
                if size == 0 {
                    continue;
                }
                best.push((score, record));
                if best.len() >= size.saturating_mul(2).max(SUGGEST_PAGE) {
                    rank(&mut best);
                    best.truncate(size);
                }
            }
            if last_page || after.is_none() {
                break;
            }
        }
        rank(&mut best);
        best.truncate(size);
        let profiles = best
            .into_iter()
            .map(|(_, record)| to_profile(record, &request.data))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SuggestedProfiles {
            took: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            total,
            profiles,
        })
    }

    /// Which of the profiles' users hold every requested privilege, by the roles each profile
    /// recorded at its last activation. Unknown uids are left out of both lists, as
    /// Elasticsearch leaves them.
    pub async fn profile_has_privileges(
        &self,
        subject: &Authentication,
        uids: Vec<String>,
        request: HasPrivileges,
    ) -> Result<ProfilePrivileges, Error> {
        let mut errors = ValidationErrors::default();
        if uids.is_empty() {
            errors.add("profile uids must be provided");
        }
        if request.cluster.is_empty() && request.index.is_empty() && request.application.is_empty()
        {
            errors.add("must specify at least one privilege");
        }
        errors.into_result()?;
        check_uid_count(uids.len())?;
        self.require_full(subject, actions::PROFILE_HAS_PRIVILEGES)?;
        let records = self.profiles_by_uid(&uids).await?;
        let mut answer = ProfilePrivileges::default();
        let mut seen = HashSet::new();
        for uid in uids {
            if !seen.insert(uid.clone()) {
                continue;
            }
            let Some(record) = records.get(&uid) else {
                continue;
            };
            let checked = match self.profile_subject(record).await {
                Ok(user) => self.has_privileges(&user, None, request.clone()).await,
                Err(err) => Err(err),
            };
            match checked {
                Ok(result) if result.has_all_requested => answer.has_privilege_uids.push(uid),
                Ok(_) => {}
                // The request itself is at fault: every profile would fail alike.
                Err(err @ Error::Domain(_)) => return Err(err),
                Err(err) => answer.errors.push((uid, err)),
            }
        }
        Ok(answer)
    }

    /// The stored profiles among `uids`, by uid.
    async fn profiles_by_uid(
        &self,
        uids: &[String],
    ) -> Result<HashMap<String, ProfileRecord>, Error> {
        Ok(self
            .inner
            .store
            .profiles(uids)
            .await?
            .into_iter()
            .map(|record| (record.uid.clone(), record))
            .collect())
    }

    /// The uid of the profile of each owner (username, realm name) that has one.
    pub async fn profile_uids(
        &self,
        owners: &[(String, String)],
    ) -> Result<HashMap<(String, String), String>, Error> {
        let mut usernames: Vec<String> = owners.iter().map(|(user, _)| user.clone()).collect();
        usernames.sort_unstable();
        usernames.dedup();
        let mut uids = HashMap::new();
        for chunk in usernames.chunks(SUGGEST_PAGE) {
            for record in self.inner.store.profiles_of_users(chunk).await? {
                uids.entry((record.username, record.realm_name))
                    .or_insert(record.uid);
            }
        }
        Ok(uids)
    }

    /// The realm name a stored user authenticates in, as profiles record it.
    pub fn user_realm_name(username: &str) -> &'static str {
        if reserved_user(username).is_some() {
            RESERVED_REALM
        } else {
            NATIVE_REALM
        }
    }

    /// One attempt at activation: `None` when another write came first.
    async fn activate_once(&self, user: &Authentication) -> Result<Option<ProfileRecord>, Error> {
        let username = &user.user.username;
        let realm = &user.authentication_realm;
        let now = self.now();
        let existing = self
            .inner
            .store
            .profiles_of_users(std::slice::from_ref(username))
            .await?;
        if let Some(current) = existing
            .iter()
            .find(|record| record.realm_name == realm.name)
        {
            let updated = ProfileRecord {
                enabled: true,
                last_synchronized: now,
                ..user_fields(current.clone(), user)
            };
            return match self.inner.store.update_profile(updated.clone()).await? {
                UpdateOutcome::Updated => Ok(Some(ProfileRecord {
                    seq: updated.seq + 1,
                    ..updated
                })),
                UpdateOutcome::Conflict => Ok(None),
            };
        }
        let taken: HashSet<&str> = existing.iter().map(|record| record.uid.as_str()).collect();
        let Some(uid) = (0..MAX_DIFFERENTIATOR)
            .map(|differentiator| profile::uid(username, differentiator))
            .find(|uid| !taken.contains(uid.as_str()))
        else {
            return Err(Error::Internal(format!(
                "cannot activate a profile for user [{username}]: {MAX_DIFFERENTIATOR} profiles of that username exist"
            )));
        };
        let record = user_fields(
            ProfileRecord {
                uid,
                username: String::new(),
                realm_name: String::new(),
                realm_type: String::new(),
                roles: Vec::new(),
                full_name: None,
                email: None,
                enabled: true,
                last_synchronized: now,
                labels: "{}".to_owned(),
                data: "{}".to_owned(),
                seq: 1,
            },
            user,
        );
        match self.inner.store.create_profile(record.clone()).await {
            Ok(()) => Ok(Some(record)),
            Err(keyward_store::Error::AlreadyExists(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }

    /// The stored profile with this uid, or Elasticsearch's 404.
    async fn stored_profile(&self, uid: &str) -> Result<ProfileRecord, Error> {
        self.inner
            .store
            .profiles(&[uid.to_owned()])
            .await?
            .pop()
            .ok_or_else(|| Error::NotFound(format!("profile document not found for uid [{uid}]")))
    }

    /// A subject with the roles a profile recorded, for its privileges.
    async fn profile_subject(&self, record: &ProfileRecord) -> Result<Authentication, Error> {
        let permission = self.resolve_roles(&record.roles).await?;
        let realm = Arc::new(Realm {
            name: record.realm_name.clone(),
            realm_type: record.realm_type.clone(),
        });
        Ok(Authentication {
            user: Arc::new(User {
                username: record.username.clone(),
                roles: record.roles.clone(),
                full_name: record.full_name.clone(),
                email: record.email.clone(),
                metadata: Map::new(),
                enabled: true,
            }),
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

/// Sets the `profile_uid` of each key whose owner (username and realm) has a profile: one store
/// read for the whole page.
pub(crate) async fn fill_profile_uids(
    store: &dyn Store,
    keys: &mut [ApiKeyInfo],
) -> Result<(), Error> {
    let mut usernames: Vec<String> = keys.iter().map(|key| key.username.clone()).collect();
    usernames.sort_unstable();
    usernames.dedup();
    let mut uids: HashMap<(String, String), String> = HashMap::new();
    for chunk in usernames.chunks(SUGGEST_PAGE) {
        for record in store.profiles_of_users(chunk).await? {
            uids.entry((record.username, record.realm_name))
                .or_insert(record.uid);
        }
    }
    for key in keys {
        key.profile_uid = uids
            .get(&(key.username.clone(), key.realm.clone()))
            .cloned();
    }
    Ok(())
}

fn user_fields(record: ProfileRecord, user: &Authentication) -> ProfileRecord {
    ProfileRecord {
        username: user.user.username.clone(),
        realm_name: user.authentication_realm.name.clone(),
        realm_type: user.authentication_realm.realm_type.clone(),
        roles: user.user.roles.clone(),
        full_name: user.user.full_name.clone(),
        email: user.user.email.clone(),
        ..record
    }
}

fn to_profile(record: ProfileRecord, data: &[String]) -> Result<Profile, Error> {
    let labels = stored_object(&record.uid, &record.labels)?;
    let stored_data = if data.is_empty() {
        Map::new()
    } else {
        stored_object(&record.uid, &record.data)?
    };
    Ok(Profile {
        data: profile::filter_data(&stored_data, data),
        uid: record.uid,
        enabled: record.enabled,
        last_synchronized: record.last_synchronized,
        username: record.username,
        roles: record.roles,
        realm_name: record.realm_name,
        email: record.email,
        full_name: record.full_name,
        labels,
        seq_no: record.seq,
        primary_term: PRIMARY_TERM,
    })
}

fn stored_object(uid: &str, text: &str) -> Result<Map<String, Value>, Error> {
    match parse_stored(text)? {
        Value::Object(object) => Ok(object),
        _ => Err(Error::Internal(format!(
            "stored profile [{uid}] holds a non-object"
        ))),
    }
}

/// `stored` with `update` merged in, as JSON text.
fn merged(uid: &str, stored: &str, update: Map<String, Value>) -> Result<String, Error> {
    let mut object = stored_object(uid, stored)?;
    profile::merge(&mut object, update);
    Ok(Value::Object(object).to_string())
}

fn version_conflict(uid: &str, seq_no: i64, term: i64, current: i64) -> Error {
    Error::VersionConflict(format!(
        "[profile_{uid}]: version conflict, required seqNo [{seq_no}], primary term [{term}]. current document has seqNo [{current}] and primary term [{PRIMARY_TERM}]"
    ))
}

fn busy() -> Error {
    Error::Rejected("the profile kept changing; retry the request".to_owned())
}

fn check_uid_count(count: usize) -> Result<(), Error> {
    if count > MAX_UIDS {
        return Err(Error::illegal_argument(format!(
            "a request may name at most [{MAX_UIDS}] profile uids, got [{count}]"
        )));
    }
    Ok(())
}

/// How many of the terms start some word of the username, full name or email.
fn name_score(record: &ProfileRecord, terms: &[String]) -> usize {
    if terms.is_empty() {
        return 0;
    }
    let fields = [
        Some(record.username.as_str()),
        record.full_name.as_deref(),
        record.email.as_deref(),
    ];
    let words: Vec<String> = fields
        .into_iter()
        .flatten()
        .flat_map(|field| {
            let field = field.to_lowercase();
            let mut words: Vec<String> = field
                .split(|c: char| !c.is_alphanumeric())
                .filter(|word| !word.is_empty())
                .map(str::to_owned)
                .collect();
            words.push(field);
            words
        })
        .collect();
    terms
        .iter()
        .filter(|term| words.iter().any(|word| word.starts_with(term.as_str())))
        .count()
}

fn labels_match(record: &ProfileRecord, key: &str, values: &[String]) -> bool {
    let Ok(Value::Object(labels)) = serde_json::from_str::<Value>(&record.labels) else {
        return false;
    };
    let Some(value) = labels.get(key) else {
        return false;
    };
    let held: Vec<String> = match value {
        Value::Array(items) => items.iter().filter_map(scalar_text).collect(),
        other => scalar_text(other).into_iter().collect(),
    };
    held.iter().any(|held| values.contains(held))
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// Best first: higher score, then the most recently activated, then by uid.
fn rank(scored: &mut [(usize, ProfileRecord)]) {
    scored.sort_by(|(score_a, a), (score_b, b)| {
        score_b
            .cmp(score_a)
            .then(b.last_synchronized.cmp(&a.last_synchronized))
            .then(a.uid.cmp(&b.uid))
    });
}
