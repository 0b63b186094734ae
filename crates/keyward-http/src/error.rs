//! Elasticsearch's error envelope and the one place that maps domain errors onto it.

use http::{HeaderMap, HeaderValue, StatusCode, header};
use keyward_service::{AuthenticationFailure, Error as ServiceError};
use serde_json::{Map, Value, json};

/// The `WWW-Authenticate` challenges every 401 carries, in Elasticsearch's order.
pub(crate) const WWW_AUTHENTICATE: [&str; 3] = [
    r#"Basic realm="security", charset="UTF-8""#,
    r#"Bearer realm="security""#,
    "ApiKey",
];

/// An Elasticsearch error response: status, `type`, `reason`, optional cause, extra fields and
/// headers. Rendered as `{"error": {...root_cause...}, "status": N}`. Boxed, so `Result`s that
/// carry it stay one pointer wide on the success path.
#[derive(Debug, Clone)]
pub struct EsError(Box<Envelope>);

/// The parts of an [`EsError`].
#[derive(Debug, Clone)]
pub struct Envelope {
    status: StatusCode,
    error_type: String,
    reason: String,
    caused_by: Option<Box<EsError>>,
    fields: Map<String, Value>,
    challenge: bool,
    /// Elasticsearch answers routing failures with a bare string in `error`.
    plain: bool,
    allow: Option<String>,
    /// The internal cause of a 5xx, logged once by the response middleware, never sent.
    internal: Option<String>,
}

impl std::ops::Deref for EsError {
    type Target = Envelope;

    fn deref(&self) -> &Envelope {
        &self.0
    }
}

impl std::ops::DerefMut for EsError {
    fn deref_mut(&mut self) -> &mut Envelope {
        &mut self.0
    }
}

impl EsError {
    /// An error of `error_type` with `reason`.
    pub fn new(status: StatusCode, error_type: &str, reason: impl Into<String>) -> EsError {
        EsError(Box::new(Envelope {
            status,
            error_type: error_type.to_owned(),
            reason: reason.into(),
            caused_by: None,
            fields: Map::new(),
            challenge: false,
            plain: false,
            allow: None,
            internal: None,
        }))
    }

    /// 400 `illegal_argument_exception`.
    pub fn illegal_argument(reason: impl Into<String>) -> EsError {
        EsError::new(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            reason,
        )
    }

    /// 400 `x_content_parse_exception`.
    pub fn x_content(reason: impl Into<String>) -> EsError {
        EsError::new(StatusCode::BAD_REQUEST, "x_content_parse_exception", reason)
    }

    /// 400 `parse_exception`.
    pub fn parse(reason: impl Into<String>) -> EsError {
        EsError::new(StatusCode::BAD_REQUEST, "parse_exception", reason)
    }

    /// A 500 whose real cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> EsError {
        let mut error = EsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "internal server error",
        );
        error.internal = Some(cause.to_string());
        error
    }

    /// Elasticsearch's answer for a path no handler serves.
    pub fn no_handler(uri: &str, method: &str) -> EsError {
        let mut error = EsError::new(
            StatusCode::BAD_REQUEST,
            "illegal_argument_exception",
            format!("no handler found for uri [{uri}] and method [{method}]"),
        );
        error.plain = true;
        error
    }

    /// Elasticsearch's answer for a known path with the wrong method.
    pub fn method_not_allowed(uri: &str, method: &str, allowed: &[&str]) -> EsError {
        let mut error = EsError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            format!(
                "Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{}]",
                allowed.join(", ")
            ),
        );
        error.plain = true;
        error.allow = Some(allowed.join(","));
        error
    }

    /// A 401 `security_exception` with the `WWW-Authenticate` challenges.
    pub fn unauthenticated(reason: impl Into<String>) -> EsError {
        let mut error = EsError::new(StatusCode::UNAUTHORIZED, "security_exception", reason);
        error.challenge = true;
        error
    }

    /// The 401 for a failed authentication of a request to `uri`.
    pub fn authentication_failed(failure: &AuthenticationFailure, uri: &str) -> EsError {
        match failure {
            AuthenticationFailure::Missing => {
                EsError::unauthenticated(format!("missing authentication credentials for REST request [{uri}]"))
            }
            AuthenticationFailure::ApiKey(message) => {
                EsError::unauthenticated("unable to authenticate with provided credentials and anonymous access is not allowed for this request")
                    .with_field("additional_unsuccessful_credentials", Value::String(format!("API key: {message}")))
            }
            AuthenticationFailure::Unsupported => EsError::unauthenticated(
                "unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            ),
            AuthenticationFailure::Terminated(message) => EsError::unauthenticated(message.clone()),
            AuthenticationFailure::TokenExpired => EsError::unauthenticated("token expired"),
            AuthenticationFailure::Malformed(cause) => EsError::unauthenticated("error attempting to authenticate request")
                .caused_by(EsError::illegal_argument(cause.clone())),
            AuthenticationFailure::User(username) => {
                EsError::unauthenticated(format!("unable to authenticate user [{username}] for REST request [{uri}]"))
            }
            AuthenticationFailure::Overloaded => EsError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "es_rejected_execution_exception",
                "rejected execution of credential verification: too many verifications are in progress",
            ),
            AuthenticationFailure::Unavailable(cause) => EsError::store_unavailable(cause),
        }
    }

    /// The 503 for a store that cannot be reached, as Elasticsearch answers when its security
    /// index has no available primary: the clients retry it, where a 401 would make them drop a
    /// valid credential.
    pub fn store_unavailable(cause: &str) -> EsError {
        EsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable_shards_exception",
            format!("the security store is unavailable: {cause}"),
        )
    }

    /// Renders this error in Elasticsearch's bare form: `{"error": "<reason>", "status": N}`.
    pub fn plain(mut self) -> EsError {
        self.plain = true;
        self
    }

    /// Adds an extra field next to `type` and `reason`.
    pub fn with_field(mut self, name: &str, value: Value) -> EsError {
        self.fields.insert(name.to_owned(), value);
        self
    }

    /// Sets the cause.
    pub fn caused_by(mut self, cause: EsError) -> EsError {
        self.caused_by = Some(Box::new(cause));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The object Elasticsearch renders for this exception (also used inside `error_details`).
    pub fn to_object(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".to_owned(), Value::String(self.error_type.clone()));
        object.insert("reason".to_owned(), Value::String(self.reason.clone()));
        for (name, value) in &self.fields {
            object.insert(name.clone(), value.clone());
        }
        if self.challenge {
            object.insert(
                "header".to_owned(),
                json!({ "WWW-Authenticate": WWW_AUTHENTICATE }),
            );
        }
        if let Some(cause) = &self.caused_by {
            object.insert("caused_by".to_owned(), cause.to_object());
        }
        Value::Object(object)
    }

    /// The whole response body.
    pub fn body(&self) -> Value {
        if self.plain {
            return json!({ "error": self.reason, "status": self.status.as_u16() });
        }
        let mut error = Map::new();
        let mut root = self.to_object();
        if let Value::Object(root) = &mut root {
            root.remove("caused_by");
        }
        error.insert("root_cause".to_owned(), Value::Array(vec![root]));
        if let Value::Object(object) = self.to_object() {
            error.extend(object);
        }
        json!({ "error": error, "status": self.status.as_u16() })
    }

    /// The internal cause of a 5xx, for the log.
    pub fn internal_cause(&self) -> Option<&str> {
        self.internal.as_deref()
    }
}

impl EsError {
    /// Adds the headers this error carries (`WWW-Authenticate`, `Allow`) to a response.
    pub(crate) fn apply_headers(&self, headers: &mut HeaderMap) {
        if self.challenge {
            for challenge in WWW_AUTHENTICATE {
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(challenge),
                );
            }
        }
        if let Some(allow) = &self.allow
            && let Ok(value) = HeaderValue::from_str(allow)
        {
            headers.insert(header::ALLOW, value);
        }
    }
}

impl From<keyward_core::Error> for EsError {
    fn from(err: keyward_core::Error) -> EsError {
        match err {
            keyward_core::Error::Validation(errors) => EsError::new(
                StatusCode::BAD_REQUEST,
                "action_request_validation_exception",
                errors.to_string(),
            ),
            keyward_core::Error::IllegalArgument(reason) => EsError::illegal_argument(reason),
            keyward_core::Error::XContentParse { reason, caused_by } => {
                let error = EsError::x_content(reason);
                match caused_by {
                    Some(cause) => error.caused_by(EsError::from(*cause)),
                    None => error,
                }
            }
            keyward_core::Error::Parse(reason) => EsError::parse(reason),
            keyward_core::Error::Parsing(reason) => {
                EsError::new(StatusCode::BAD_REQUEST, "parsing_exception", reason)
            }
            keyward_core::Error::TooManyClauses(reason) => {
                EsError::new(StatusCode::BAD_REQUEST, "too_many_clauses", reason)
            }
            keyward_core::Error::TooComplexToDeterminize(reason) => EsError::new(
                StatusCode::BAD_REQUEST,
                "too_complex_to_determinize_exception",
                reason,
            ),
            keyward_core::Error::TooManyNestedClauses(reason) => {
                EsError::new(StatusCode::BAD_REQUEST, "too_many_nested_clauses", reason)
            }
            keyward_core::Error::ValidationException(errors) => EsError::new(
                StatusCode::BAD_REQUEST,
                "validation_exception",
                errors.to_string(),
            ),
        }
    }
}

impl From<ServiceError> for EsError {
    fn from(err: ServiceError) -> EsError {
        match err {
            ServiceError::Domain(err) => EsError::from(err),
            ServiceError::Unauthorized(denied) => EsError::new(
                StatusCode::FORBIDDEN,
                "security_exception",
                denied.to_string(),
            ),
            ServiceError::BadRequest(reason) => {
                EsError::new(StatusCode::BAD_REQUEST, "security_exception", reason)
            }
            ServiceError::BadRequestStatus(reason) => {
                EsError::new(StatusCode::BAD_REQUEST, "status_exception", reason)
            }
            ServiceError::Forbidden(reason) => {
                EsError::new(StatusCode::FORBIDDEN, "security_exception", reason)
            }
            ServiceError::Unauthenticated(failure) => EsError::authentication_failed(&failure, ""),
            ServiceError::NotFound(reason) => EsError::new(
                StatusCode::NOT_FOUND,
                "resource_not_found_exception",
                reason,
            ),
            ServiceError::FeatureNotEnabled => EsError::new(
                StatusCode::BAD_REQUEST,
                "feature_not_enabled_exception",
                "api keys are not enabled",
            )
            .with_field("feature", Value::String("api_keys".to_owned())),
            ServiceError::VersionConflict(reason) => EsError::new(
                StatusCode::CONFLICT,
                "version_conflict_engine_exception",
                reason,
            ),
            ServiceError::Rejected(reason) => EsError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "es_rejected_execution_exception",
                reason,
            ),
            // A query too large for the store is the caller's, answered as Lucene's clause limit.
            ServiceError::Store(keyward_store::Error::QueryTooLarge(_)) => EsError::new(
                StatusCode::BAD_REQUEST,
                "too_many_nested_clauses",
                format!(
                    "Query contains too many nested clauses; maxClauseCount is set to {}",
                    keyward_core::query::MAX_CLAUSE_COUNT
                ),
            ),
            // As Elasticsearch answers when its security index has no available primary: a 503
            // the clients retry, never a 401 that would make them drop a valid credential.
            ServiceError::Store(keyward_store::Error::Unavailable(cause)) => {
                EsError::store_unavailable(&cause)
            }
            // Elasticsearch's flood-stage block (there 429 TOO_MANY_REQUESTS/12), as a 503 here:
            // the write was not made, reads and authentication go on, and the same request
            // succeeds once there is space. COMPATIBILITY.md names the difference.
            ServiceError::Store(keyward_store::Error::DiskFull(cause)) => {
                tracing::error!(
                    cause,
                    "a write was refused: the disk holding the store is full"
                );
                EsError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "cluster_block_exception",
                    "index [.security-7] blocked by: [SERVICE_UNAVAILABLE/12/disk usage exceeded flood-stage watermark, index has read-only-allow-delete block];",
                )
            }
            ServiceError::Store(err) => EsError::internal(err),
            ServiceError::Internal(reason) => EsError::internal(reason),
            ServiceError::TooManyBuckets { max_buckets } => EsError::new(
                StatusCode::BAD_REQUEST,
                "too_many_buckets_exception",
                format!(
                    "Trying to create too many buckets. Must be less than or equal to: \
                     [{max_buckets}] but this number of buckets was exceeded. This limit can be \
                     set by changing the [search.max_buckets] cluster level setting."
                ),
            )
            .with_field("max_buckets", Value::from(max_buckets)),
        }
    }
}
