//! The domain error: each variant is one of Elasticsearch's error types, so the HTTP layer can
//! map it without guessing.

use std::fmt;

/// Errors raised while parsing or validating domain input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Request validation failed (`action_request_validation_exception`, 400).
    #[error("{0}")]
    Validation(ValidationErrors),
    /// A value is not acceptable (`illegal_argument_exception`, 400).
    #[error("{0}")]
    IllegalArgument(String),
    /// A JSON document has the wrong structure (`x_content_parse_exception`, 400).
    #[error("{reason}")]
    XContentParse {
        /// What went wrong, in Elasticsearch's words.
        reason: String,
        /// The underlying cause, rendered as `caused_by` when present.
        caused_by: Option<Box<Error>>,
    },
    /// A value could not be parsed (`parse_exception`, 400).
    #[error("{0}")]
    Parse(String),
    /// A query could not be parsed (`parsing_exception`, 400).
    #[error("{0}")]
    Parsing(String),
    /// One `bool` query has more clauses than Lucene's `maxClauseCount` (`too_many_clauses`,
    /// 400).
    #[error("{0}")]
    TooManyClauses(String),
    /// A query holds more leaf queries in all than Lucene's `maxClauseCount`
    /// (`too_many_nested_clauses`, 400).
    #[error("{0}")]
    TooManyNestedClauses(String),
    /// The patterns of a request need more automaton work than one request may do (Lucene's
    /// `too_complex_to_determinize_exception`, 400).
    #[error("{0}")]
    TooComplexToDeterminize(String),
    /// A validation failure Elasticsearch raises outside request validation, such as password
    /// rules (`validation_exception`, 400).
    #[error("{0}")]
    ValidationException(ValidationErrors),
}

impl Error {
    /// An `x_content_parse_exception` without a cause.
    pub fn x_content(reason: impl Into<String>) -> Error {
        Error::XContentParse {
            reason: reason.into(),
            caused_by: None,
        }
    }

    /// An `illegal_argument_exception`.
    pub fn illegal_argument(reason: impl Into<String>) -> Error {
        Error::IllegalArgument(reason.into())
    }

    /// A validation failure with a single message.
    pub fn validation(message: impl Into<String>) -> Error {
        let mut errors = ValidationErrors::default();
        errors.add(message);
        Error::Validation(errors)
    }

    /// A `validation_exception` with a single message.
    pub fn validation_exception(message: impl Into<String>) -> Error {
        let mut errors = ValidationErrors::default();
        errors.add(message);
        Error::ValidationException(errors)
    }
}

/// The name Elasticsearch's parser gives the JSON token a value starts with (`VALUE_STRING`,
/// `START_OBJECT`, …), as its "found [...] instead" parse errors show it.
pub fn json_token(value: &serde_json::Value) -> &'static str {
    use serde_json::Value;
    match value {
        Value::Null => "VALUE_NULL",
        Value::Bool(_) => "VALUE_BOOLEAN",
        Value::Number(_) => "VALUE_NUMBER",
        Value::String(_) => "VALUE_STRING",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
    }
}

/// The messages of one failed request validation, rendered as Elasticsearch does:
/// `Validation Failed: 1: first;2: second;`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidationErrors {
    messages: Vec<String>,
}

impl ValidationErrors {
    /// Records one failure message.
    pub fn add(&mut self, message: impl Into<String>) {
        self.messages.push(message.into());
    }

    /// True when nothing failed.
    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The recorded messages, in order.
    pub fn messages(&self) -> &[String] {
        &self.messages
    }

    /// `Ok(())` when empty, otherwise the validation error.
    pub fn into_result(self) -> Result<(), Error> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self))
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Validation Failed: ")?;
        for (index, message) in self.messages.iter().enumerate() {
            write!(f, "{}: {};", index + 1, message)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_errors_render_like_elasticsearch() {
        let mut errors = ValidationErrors::default();
        errors.add("api key name is required");
        errors.add("API key metadata keys may not start with [_]");
        assert_eq!(
            errors.to_string(),
            "Validation Failed: 1: api key name is required;2: API key metadata keys may not start with [_];"
        );
    }
}
