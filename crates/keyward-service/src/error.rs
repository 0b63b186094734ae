//! What can go wrong in the service, in domain terms; the HTTP layer picks status and `type`.

/// Errors of the API key service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller's input is invalid (parse or validation); carries Elasticsearch's wording.
    #[error(transparent)]
    Domain(#[from] keyward_core::Error),
    /// The subject may not perform the action (403 `security_exception`).
    #[error("{0}")]
    Unauthorized(Box<Unauthorized>),
    /// A request that Elasticsearch refuses with 400 `security_exception` and a fixed reason.
    #[error("{0}")]
    BadRequest(String),
    /// A request that Elasticsearch refuses with 400 `status_exception`.
    #[error("{0}")]
    BadRequestStatus(String),
    /// A request that Elasticsearch refuses with 403 and a fixed reason.
    #[error("{0}")]
    Forbidden(String),
    /// The credential did not authenticate (401).
    #[error("{0}")]
    Unauthenticated(crate::AuthenticationFailure),
    /// A named resource does not exist (404 `resource_not_found_exception`).
    #[error("{0}")]
    NotFound(String),
    /// A create-only write found the document there (409 `version_conflict_engine_exception`).
    #[error("{0}")]
    VersionConflict(String),
    /// The API key service is disabled by configuration.
    #[error("api keys are not enabled")]
    FeatureNotEnabled,
    /// Verification capacity is exhausted (429 `es_rejected_execution_exception`).
    #[error("{0}")]
    Rejected(String),
    /// An aggregation would create more buckets than `search.max_buckets` allows (400
    /// `too_many_buckets_exception`).
    #[error("too many buckets (limit {max_buckets})")]
    TooManyBuckets {
        /// The configured limit.
        max_buckets: usize,
    },
    /// The store failed; not the client's fault.
    #[error("store failure: {0}")]
    Store(#[from] keyward_store::Error),
    /// A state that should be impossible; not the client's fault.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// An `illegal_argument_exception` with Elasticsearch's reason.
    pub(crate) fn illegal_argument(reason: impl Into<String>) -> Error {
        Error::Domain(keyward_core::Error::IllegalArgument(reason.into()))
    }
}

/// A denied action, with everything Elasticsearch's 403 reason names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unauthorized {
    /// The action name, e.g. `cluster:admin/xpack/security/api_key/create`.
    pub action: String,
    /// The user the subject acts as.
    pub username: String,
    /// The API key id when the subject authenticated with a key.
    pub api_key_id: Option<String>,
    /// The user's role names (empty for keys).
    pub roles: Vec<String>,
    /// The cluster privileges that would grant the action.
    pub granted_by: Vec<&'static str>,
    /// The user's roles that do not exist (named after the effective ones).
    pub missing_roles: Vec<String>,
    /// Set when the denial is of running as this user.
    pub run_as: Option<String>,
    /// Whether the subject is a service account (named as such, without roles).
    pub service_account: bool,
}

impl std::fmt::Display for Unauthorized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "action [{}] is unauthorized for ", self.action)?;
        match &self.api_key_id {
            Some(id) => write!(f, "API key id [{}] of user [{}]", id, self.username)?,
            // Elasticsearch names a service account as such and lists no roles for it.
            None if self.service_account => write!(f, "service account [{}]", self.username)?,
            None => {
                write!(
                    f,
                    "user [{}] with effective roles [{}]",
                    self.username,
                    self.roles.join(",")
                )?;
                if !self.missing_roles.is_empty() {
                    write!(
                        f,
                        " (assigned roles [{}] were not found)",
                        self.missing_roles.join(",")
                    )?;
                }
            }
        }
        if let Some(target) = &self.run_as {
            let who = match &self.api_key_id {
                Some(id) => format!("API key id [{id}] of user [{}]", self.username),
                None => format!("user [{}]", self.username),
            };
            return write!(f, ", because {who} is unauthorized to run as [{target}]");
        }
        if !self.granted_by.is_empty() {
            write!(
                f,
                ", this action is granted by the cluster privileges [{}]",
                self.granted_by.join(",")
            )?;
        }
        Ok(())
    }
}
