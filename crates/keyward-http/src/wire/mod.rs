//! Request parsing as Elasticsearch does it: strict JSON objects with named parsers, query
//! parameters with Elasticsearch's boolean rules, and the request/response shapes of each API.

pub(crate) mod api_key;
pub(crate) mod cross_cluster;
pub(crate) mod profile;
pub(crate) mod query;
pub(crate) mod security;
pub(crate) mod token;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{Map, Value};

use crate::error::EsError;

/// Parses a JSON request body. `None` when the body is empty.
///
/// A key repeated in any object of the body is refused, as Elasticsearch's parser
/// (Jackson with `STRICT_DUPLICATE_DETECTION`) refuses it: a proxy in front of keyward that reads
/// the first value and keyward reading the last must never disagree about a request.
pub(crate) fn parse_body(body: &Bytes) -> Result<Option<Value>, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let parsed = serde::de::DeserializeSeed::deserialize(StrictValue, &mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value));
    parsed.map(Some).map_err(|err| {
        let position = format!("[{}:{}]", err.line(), err.column());
        if err.classify() == serde_json::error::Category::Data {
            // The only data error a `Value` can raise is ours: a repeated key.
            let message = err.to_string();
            let message = message
                .rsplit_once(" at line ")
                .map_or(message.as_str(), |(message, _)| message);
            return EsError::x_content(format!("{position} {message}")).caused_by(EsError::new(
                http::StatusCode::BAD_REQUEST,
                "json_parse_exception",
                message,
            ));
        }
        EsError::x_content(format!(
            "{position} failed to parse the request body as JSON"
        ))
        .caused_by(EsError::new(
            http::StatusCode::BAD_REQUEST,
            "json_parse_exception",
            err.to_string(),
        ))
    })
}

/// Builds a [`Value`] like `serde_json` does, except that an object naming a key twice is an
/// error (`Duplicate field 'name'`, Jackson's wording).
struct StrictValue;

impl<'de> serde::de::DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictValue)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("any JSON value")
    }

    fn visit_bool<E>(self, value: bool) -> Result<Value, E> {
        Ok(Value::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_u64<E>(self, value: u64) -> Result<Value, E> {
        Ok(Value::from(value))
    }

    fn visit_f64<E>(self, value: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, value: &str) -> Result<Value, E> {
        Ok(Value::String(value.to_owned()))
    }

    fn visit_string<E>(self, value: String) -> Result<Value, E> {
        Ok(Value::String(value))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(StrictValue)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            // One lookup: the slot is found before the value is read, so the error points
            // at the repeated name as Jackson's does.
            match object.entry(key) {
                serde_json::map::Entry::Occupied(occupied) => {
                    return Err(serde::de::Error::custom(format_args!(
                        "Duplicate field '{}'",
                        occupied.key()
                    )));
                }
                serde_json::map::Entry::Vacant(vacant) => {
                    vacant.insert(map.next_value_seed(StrictValue)?);
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// A required body: Elasticsearch's `request body is required` when it is missing.
pub(crate) fn require_body(body: &Bytes) -> Result<Value, EsError> {
    parse_body(body)?.ok_or_else(|| EsError::parse("request body is required"))
}

/// Reads the fields of one JSON object for a named parser, rejecting fields it does not take.
pub(crate) struct ObjectReader<'a> {
    parser: &'static str,
    fields: &'a Map<String, Value>,
    taken: Vec<&'static str>,
}

impl<'a> ObjectReader<'a> {
    /// Starts reading `value`, which must be an object.
    pub(crate) fn new(value: &'a Value, parser: &'static str) -> Result<ObjectReader<'a>, EsError> {
        match value {
            Value::Object(fields) => Ok(ObjectReader {
                parser,
                fields,
                taken: Vec::new(),
            }),
            other => Err(EsError::x_content(format!(
                "[{parser}] Expected START_OBJECT but was: {}",
                keyward_core::json_token(other)
            ))),
        }
    }

    /// The raw value of `name` (`None` when absent or null).
    pub(crate) fn value(&mut self, name: &'static str) -> Option<&'a Value> {
        self.taken.push(name);
        self.fields.get(name).filter(|value| !value.is_null())
    }

    /// Whether `name` is given as JSON `null` (which [`Self::value`] reads as absent).
    pub(crate) fn is_null(&self, name: &str) -> bool {
        self.fields.get(name).is_some_and(Value::is_null)
    }

    /// An optional string field.
    pub(crate) fn string(&mut self, name: &'static str) -> Result<Option<String>, EsError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
            Some(other) => Err(self.wrong_type(name, other)),
        }
    }

    /// An optional boolean field: JSON booleans and the strings `"true"`/`"false"`.
    pub(crate) fn boolean(&mut self, name: &'static str) -> Result<Option<bool>, EsError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(Value::String(text)) if text == "true" => Ok(Some(true)),
            Some(Value::String(text)) if text == "false" => Ok(Some(false)),
            Some(other) => Err(self.wrong_type(name, other)),
        }
    }

    /// An optional object field.
    pub(crate) fn object(
        &mut self,
        name: &'static str,
    ) -> Result<Option<&'a Map<String, Value>>, EsError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object)),
            Some(other) => Err(self.wrong_type(name, other)),
        }
    }

    /// An optional array of strings; a single string counts as a one-element array.
    pub(crate) fn strings(&mut self, name: &'static str) -> Result<Option<Vec<String>>, EsError> {
        match self.value(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(vec![text.clone()])),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text.clone()),
                    other => Err(self.wrong_type(name, other)),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(self.wrong_type(name, other)),
        }
    }

    /// Fails on the first field nobody asked for, as Elasticsearch's strict parsers do.
    pub(crate) fn finish(self) -> Result<(), EsError> {
        match self
            .fields
            .keys()
            .find(|key| !self.taken.contains(&key.as_str()))
        {
            Some(unknown) => Err(EsError::x_content(format!(
                "[{}] unknown field [{unknown}]",
                self.parser
            ))),
            None => Ok(()),
        }
    }

    /// The parser's error for a field whose JSON type it does not take.
    pub(crate) fn wrong_type(&self, name: &str, value: &Value) -> EsError {
        EsError::x_content(format!("[{}] failed to parse field [{name}]", self.parser)).caused_by(
            EsError::illegal_argument(format!(
                "[{name}] doesn't support values of type: {}",
                keyward_core::json_token(value)
            )),
        )
    }
}

/// The query string, decoded.
#[derive(Debug, Clone, Default)]
pub(crate) struct QueryParams {
    params: BTreeMap<String, String>,
}

/// Rejects a malformed `%` escape in any name or value of a query string, as Elasticsearch's
/// decoder does (a lenient decoder would read `%ZZ` literally, and a proxy in front might not).
fn check_escapes(query: &str) -> Result<(), EsError> {
    for component in query.split(['&', '=']) {
        let bytes = component.as_bytes();
        for (at, _) in component.match_indices('%') {
            let reason = match (bytes.get(at + 1), bytes.get(at + 2)) {
                (None, _) => format!("unterminated escape sequence at end of string: {component}"),
                (Some(_), None) => {
                    format!("partial escape sequence at end of string: {component}")
                }
                (Some(high), Some(low)) if high.is_ascii_hexdigit() && low.is_ascii_hexdigit() => {
                    continue;
                }
                (Some(_), Some(_)) => format!(
                    "invalid escape sequence `{}' at index {at} of: {component}",
                    component[at..].chars().take(3).collect::<String>()
                ),
            };
            // Elasticsearch answers with the decoder's exception wrapped in its own.
            return Err(EsError::new(
                http::StatusCode::BAD_REQUEST,
                "bad_parameter_exception",
                format!("java.lang.IllegalArgumentException: {reason}"),
            ));
        }
    }
    Ok(())
}

/// Parameters every endpoint accepts.
const GLOBAL_PARAMS: &[&str] = &["pretty", "human", "error_trace", "filter_path", "format"];

impl QueryParams {
    /// Parses a raw query string.
    pub(crate) fn parse(query: Option<&str>) -> Result<QueryParams, EsError> {
        if let Some(query) = query {
            check_escapes(query)?;
        }
        let pairs: Vec<(String, String)> = match query {
            Some(query) => serde_urlencoded::from_str(query)
                .map_err(|err| EsError::illegal_argument(format!("invalid query string: {err}")))?,
            None => Vec::new(),
        };
        Ok(QueryParams {
            params: pairs.into_iter().collect(),
        })
    }

    /// Rejects parameters the endpoint does not take, with Elasticsearch's message.
    pub(crate) fn check_allowed(&self, path: &str, allowed: &[&str]) -> Result<(), EsError> {
        let unknown: Vec<&str> = self
            .params
            .keys()
            .map(String::as_str)
            .filter(|name| !allowed.contains(name) && !GLOBAL_PARAMS.contains(name))
            .collect();
        match unknown.as_slice() {
            [] => Ok(()),
            [one] => Err(EsError::illegal_argument(format!(
                "request [{path}] contains unrecognized parameter: [{one}]"
            ))),
            many => Err(EsError::illegal_argument(format!(
                "request [{path}] contains unrecognized parameters: {}",
                many.iter()
                    .map(|name| format!("[{name}]"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    /// A raw parameter value.
    pub(crate) fn raw(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// A parameter whose blank value counts as absent.
    pub(crate) fn string(&self, name: &str) -> Option<String> {
        self.raw(name)
            .map(str::trim)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    }

    /// A boolean parameter: `true`, `false`, or present without a value (true).
    pub(crate) fn flag(&self, name: &str) -> Result<bool, EsError> {
        match self.raw(name) {
            None => Ok(false),
            Some("" | "true") => Ok(true),
            Some("false") => Ok(false),
            Some(other) => Err(EsError::illegal_argument(format!(
                "Failed to parse value [{other}] as only [true] or [false] are allowed."
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Value>, EsError> {
        parse_body(&Bytes::from(text.to_owned()))
    }

    #[test]
    fn bodies_parse_as_serde_json_parses_them() {
        for text in [
            r#"{"a":1,"b":[1,-2,3.5,1e300,18446744073709551615],"c":{"d":null,"e":true},"f":"\u00e9"}"#,
            r#"[{"a":1},{"a":2}]"#,
            r#""text""#,
            "  {}  ",
        ] {
            let expected: Value = serde_json::from_str(text).unwrap();
            assert_eq!(parse(text).unwrap(), Some(expected), "{text}");
        }
        assert_eq!(parse(" \n ").unwrap(), None);
    }

    #[test]
    fn repeated_keys_are_refused_at_any_depth() {
        for (text, position, name) in [
            (r#"{"a":1,"a":2}"#, "[1:10]", "a"),
            (r#"{"a":{"b":1,"c":{"d":1,"d":1}}}"#, "[1:26]", "d"),
            (r#"[{"a":1},{"x":[{"k":1,"k":2}]}]"#, "[1:25]", "k"),
        ] {
            let err = parse(text).unwrap_err();
            let body = err.body();
            assert_eq!(body["error"]["type"], "x_content_parse_exception", "{text}");
            assert_eq!(
                body["error"]["reason"],
                format!("{position} Duplicate field '{name}'"),
                "{text}"
            );
            assert_eq!(
                body["error"]["caused_by"]["reason"],
                format!("Duplicate field '{name}'")
            );
        }
        // The same key in sibling objects is not a repeat.
        assert!(parse(r#"{"a":{"k":1},"b":{"k":1},"c":[{"k":1},{"k":2}]}"#).is_ok());
    }

    #[test]
    fn malformed_json_keeps_its_own_error() {
        let err = parse(r#"{"a":1,}"#).unwrap_err();
        let body = err.body();
        assert_eq!(body["error"]["type"], "x_content_parse_exception");
        assert_eq!(
            body["error"]["reason"],
            "[1:8] failed to parse the request body as JSON"
        );
        assert!(parse(r#"{"a":1} x"#).is_err());
    }

    #[test]
    fn malformed_escapes_in_query_strings_are_refused() {
        let reason = |query: &str| {
            QueryParams::parse(Some(query))
                .err()
                .map(|err| err.body()["error"]["reason"].clone())
        };
        assert_eq!(reason("name=%41%2a&owner=true"), None);
        assert_eq!(reason("name=%FF%FE"), None);
        assert_eq!(
            reason("a=1&name=%ZZ"),
            Some(Value::from(
                "java.lang.IllegalArgumentException: invalid escape sequence `%ZZ' at index 0 of: %ZZ"
            ))
        );
        assert_eq!(
            reason("name=ab%F"),
            Some(Value::from(
                "java.lang.IllegalArgumentException: partial escape sequence at end of string: ab%F"
            ))
        );
        assert_eq!(
            reason("na%=x"),
            Some(Value::from(
                "java.lang.IllegalArgumentException: unterminated escape sequence at end of string: na%"
            ))
        );
        assert_eq!(
            reason("name=%é1"),
            Some(Value::from(
                "java.lang.IllegalArgumentException: invalid escape sequence `%é1' at index 0 of: %é1"
            ))
        );
    }
}
