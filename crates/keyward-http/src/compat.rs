//! What makes a response look like Elasticsearch's to a client: the `X-Elastic-Product` header,
//! JSON (or versioned vendor JSON) content types, and the `pretty` and `filter_path` parameters.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use http_body_util::Full;
use serde_json::Value;

use crate::error::EsError;
use crate::wire::QueryParams;

/// How the client wants its response rendered.
#[derive(Debug, Clone, Default)]
pub(crate) struct Rendering {
    /// The response media type.
    content_type: &'static str,
    pretty: bool,
    filter_path: Option<String>,
    head: bool,
}

const JSON: &str = "application/json";
const X_ELASTIC_PRODUCT: HeaderName = HeaderName::from_static("x-elastic-product");
const COMPATIBLE_8: &str = "application/vnd.elasticsearch+json;compatible-with=8";
const COMPATIBLE_9: &str = "application/vnd.elasticsearch+json;compatible-with=9";

impl Rendering {
    /// Reads the rendering options of a request and checks its media types. Errors are rendered
    /// as plain JSON.
    pub(crate) fn negotiate(
        method: &Method,
        headers: &HeaderMap,
        query: &QueryParams,
        has_body: bool,
    ) -> (Rendering, Result<(), EsError>) {
        let mut rendering = Rendering {
            content_type: JSON,
            pretty: query.raw("pretty").is_some_and(|value| value != "false"),
            filter_path: query.string("filter_path"),
            head: method == Method::HEAD,
        };
        let accept = match media_type(headers.get(header::ACCEPT)) {
            Ok(accept) => accept,
            Err(err) => return (rendering, Err(err)),
        };
        if let Some(MediaType::Compatible(version)) = accept {
            rendering.content_type = if version == 8 {
                COMPATIBLE_8
            } else {
                COMPATIBLE_9
            };
        }
        let content_type = match media_type(headers.get(header::CONTENT_TYPE)) {
            Ok(content_type) => content_type,
            Err(err) => return (rendering, Err(err)),
        };
        if has_body {
            match content_type {
                Some(MediaType::Json | MediaType::Compatible(_)) => {}
                Some(MediaType::Other(other)) => {
                    return (
                        rendering,
                        Err(not_acceptable(format!(
                            "Content-Type header [{other}] is not supported"
                        ))),
                    );
                }
                None => {
                    return (
                        rendering,
                        Err(not_acceptable("Content-Type header is missing".to_owned())),
                    );
                }
            }
        }
        (rendering, Ok(()))
    }

    /// Renders a JSON body as the final response.
    pub(crate) fn respond(
        &self,
        status: StatusCode,
        body: &Value,
        error: Option<&EsError>,
    ) -> Response {
        let filtered;
        let body = match &self.filter_path {
            Some(filter) => {
                filtered = filter_path(body, filter);
                &filtered
            }
            None => body,
        };
        let text = if self.pretty {
            pretty(body)
        } else {
            body.to_string()
        };
        self.finish(status, Bytes::from(text), error)
    }

    /// Sends JSON rendered ahead of time (compact, unfiltered) as it is when the client asked for
    /// nothing else, and re-renders it otherwise.
    pub(crate) fn respond_rendered(&self, status: StatusCode, body: Bytes) -> Response {
        if self.pretty || self.filter_path.is_some() {
            match serde_json::from_slice::<Value>(&body) {
                Ok(value) => return self.respond(status, &value, None),
                Err(err) => tracing::error!(error = %err, "a pre-rendered body is not JSON"),
            }
        }
        self.finish(status, body, None)
    }

    fn finish(&self, status: StatusCode, text: Bytes, error: Option<&EsError>) -> Response {
        let length = text.len();
        let mut response = Response::new(Full::new(if self.head { Bytes::new() } else { text }));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(X_ELASTIC_PRODUCT, HeaderValue::from_static("Elasticsearch"));
        if self.head {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if let Some(error) = error {
            error.apply_headers(headers);
        }
        response
    }
}

/// Every response keyward sends: its body is complete before the headers go out.
pub(crate) type Response = http::Response<Full<Bytes>>;

/// A 406 in Elasticsearch's plain form.
fn not_acceptable(reason: String) -> EsError {
    EsError::new(
        StatusCode::NOT_ACCEPTABLE,
        "media_type_header_exception",
        reason,
    )
    .plain()
}

enum MediaType {
    Json,
    Compatible(u8),
    Other(String),
}

/// Reads a `Content-Type` or `Accept` header. An `Accept` list (`a; compatible-with=9,text/plain`,
/// as the JavaScript client sends) is answered by its first JSON entry.
fn media_type(value: Option<&HeaderValue>) -> Result<Option<MediaType>, EsError> {
    let Some(value) = value else { return Ok(None) };
    let text = value.to_str().unwrap_or("").trim().to_ascii_lowercase();
    let mut first = None;
    for entry in text.split(',') {
        match single_media_type(entry)? {
            MediaType::Other(other) => {
                first.get_or_insert(MediaType::Other(other));
            }
            json => return Ok(Some(json)),
        }
    }
    Ok(first)
}

fn single_media_type(text: &str) -> Result<MediaType, EsError> {
    let mut parts = text.split(';').map(str::trim);
    let essence = parts.next().unwrap_or("");
    match essence {
        "application/json" | "*/*" | "" => Ok(MediaType::Json),
        "application/vnd.elasticsearch+json" => {
            let version = parts
                .filter_map(|part| part.split_once('='))
                .find(|(name, _)| name.trim() == "compatible-with")
                .map(|(_, version)| version.trim().to_owned());
            match version.as_deref() {
                Some("8") => Ok(MediaType::Compatible(8)),
                Some("9") => Ok(MediaType::Compatible(9)),
                None => Ok(MediaType::Json),
                Some(other) => Err(EsError::new(
                    StatusCode::BAD_REQUEST,
                    "media_type_header_exception",
                    "Invalid media-type value on headers [Accept, Content-Type]",
                )
                .caused_by(EsError::new(StatusCode::BAD_REQUEST, "status_exception", format!(
                    "A compatible version is required on both Content-Type and Accept headers if either one has requested a compatible version and the compatible versions must match. Requested version: [{other}] is not supported"
                )))),
            }
        }
        other => Ok(MediaType::Other(other.to_owned())),
    }
}

/// Jackson's pretty printer, as Elasticsearch's `?pretty` output: two-space indent and
/// `"key" : value`.
fn pretty(value: &Value) -> String {
    struct Jackson<'a>(serde_json::ser::PrettyFormatter<'a>);
    impl serde_json::ser::Formatter for Jackson<'_> {
        fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.begin_array(w)
        }
        fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.end_array(w)
        }
        fn begin_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.0.begin_array_value(w, first)
        }
        fn end_array_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            self.0.end_array_value(w)
        }
        fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.begin_object(w)
        }
        fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
            self.0.end_object(w)
        }
        fn begin_object_key<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
            first: bool,
        ) -> std::io::Result<()> {
            self.0.begin_object_key(w, first)
        }
        fn begin_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            w.write_all(b" : ")
        }
        fn end_object_value<W: ?Sized + std::io::Write>(
            &mut self,
            w: &mut W,
        ) -> std::io::Result<()> {
            self.0.end_object_value(w)
        }
    }
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(
        &mut out,
        Jackson(serde_json::ser::PrettyFormatter::new()),
    );
    if serde::Serialize::serialize(value, &mut serializer).is_err() {
        return value.to_string();
    }
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_else(|_| value.to_string())
}

/// Applies Elasticsearch's `filter_path`: comma-separated dotted paths with `*` and `**`
/// wildcards; a leading `-` excludes. Arrays are transparent.
pub(crate) fn filter_path(value: &Value, filter: &str) -> Value {
    let mut includes = Vec::new();
    let mut excludes = Vec::new();
    for path in filter
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
    {
        match path.strip_prefix('-') {
            Some(path) => excludes.push(segments(path)),
            None => includes.push(segments(path)),
        }
    }
    let included = if includes.is_empty() {
        value.clone()
    } else {
        let paths: Vec<&[String]> = includes.iter().map(Vec::as_slice).collect();
        include(value, &paths).unwrap_or_else(|| Value::Object(serde_json::Map::new()))
    };
    if excludes.is_empty() {
        return included;
    }
    let paths: Vec<&[String]> = excludes.iter().map(Vec::as_slice).collect();
    exclude(&included, &paths)
}

fn segments(path: &str) -> Vec<String> {
    path.split('.').map(str::to_owned).collect()
}

/// Where the remaining paths lead after matching `key`: `None` if some path ends here (keep the
/// whole subtree), otherwise the paths still to match below it.
fn advance<'p>(paths: &[&'p [String]], key: &str) -> Option<Vec<&'p [String]>> {
    let mut next = Vec::new();
    for path in paths {
        let Some((first, rest)) = path.split_first() else {
            continue;
        };
        if first == "**" {
            // `**` may match nothing (try the rest here) or this key and more below.
            next.push(*path);
            if rest.is_empty() {
                return None;
            }
            if let Some((second, after)) = rest.split_first()
                && glob(second, key)
            {
                if after.is_empty() {
                    return None;
                }
                next.push(after);
            }
        } else if glob(first, key) {
            if rest.is_empty() {
                return None;
            }
            next.push(rest);
        }
    }
    Some(next)
}

fn include(value: &Value, paths: &[&[String]]) -> Option<Value> {
    match value {
        Value::Object(object) => {
            let mut kept = serde_json::Map::new();
            for (key, child) in object {
                match advance(paths, key) {
                    None => {
                        kept.insert(key.clone(), child.clone());
                    }
                    Some(next) if !next.is_empty() => {
                        if let Some(child) = include(child, &next) {
                            kept.insert(key.clone(), child);
                        }
                    }
                    Some(_) => {}
                }
            }
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items
                .iter()
                .filter_map(|item| include(item, paths))
                .collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

fn exclude(value: &Value, paths: &[&[String]]) -> Value {
    match value {
        Value::Object(object) => {
            let mut kept = serde_json::Map::new();
            for (key, child) in object {
                match advance(paths, key) {
                    None => {}
                    Some(next) if next.is_empty() => {
                        kept.insert(key.clone(), child.clone());
                    }
                    Some(next) => {
                        kept.insert(key.clone(), exclude(child, &next));
                    }
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| exclude(item, paths)).collect())
        }
        other => other.clone(),
    }
}

/// `*` matches any run of characters; everything else literally (Elasticsearch's `Glob`).
fn glob(pattern: &str, text: &str) -> bool {
    keyward_core::wildcard::matches_stars_only(pattern, text)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(filter: &str, expected: Value) {
        let body = json!({
            "api_keys": [{"id": "a", "name": "x", "metadata": {"tier": 1}}, {"id": "b", "name": "y"}],
            "total": 2,
            "_nodes": {"failed": 0, "total": 1}
        });
        assert_eq!(filter_path(&body, filter), expected, "filter_path={filter}");
    }

    #[test]
    fn filter_path_includes_excludes_and_wildcards() {
        check("total", json!({"total": 2}));
        check(
            "api_keys.id",
            json!({"api_keys": [{"id": "a"}, {"id": "b"}]}),
        );
        check(
            "api_keys.*e",
            json!({"api_keys": [{"name": "x"}, {"name": "y"}]}),
        );
        check("**.tier", json!({"api_keys": [{"metadata": {"tier": 1}}]}));
        check(
            "_nodes.failed,total",
            json!({"total": 2, "_nodes": {"failed": 0}}),
        );
        check(
            "-api_keys,-_nodes.total",
            json!({"total": 2, "_nodes": {"failed": 0}}),
        );
        check("nothing", json!({}));
    }

    #[test]
    fn pretty_output_looks_like_jackson() {
        assert_eq!(
            pretty(&json!({"a": [1], "b": {}})),
            "{\n  \"a\" : [\n    1\n  ],\n  \"b\" : { }\n}\n".replace("{ }", "{}")
        );
    }
}
