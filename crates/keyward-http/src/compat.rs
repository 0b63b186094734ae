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
        if let Err(err) = media_type(headers.get(header::CONTENT_TYPE)) {
            return (rendering, Err(err));
        }
        if has_body && let Err(err) = body_content_type(headers) {
            return (rendering, Err(err));
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

/// Checks the `Content-Type` of a request that carries a body: JSON, or Elasticsearch's
/// versioned vendor JSON.
pub(crate) fn body_content_type(headers: &HeaderMap) -> Result<(), EsError> {
    match media_type(headers.get(header::CONTENT_TYPE))? {
        Some(MediaType::Json | MediaType::Compatible(_)) => Ok(()),
        Some(MediaType::Other(other)) => Err(not_acceptable(format!(
            "Content-Type header [{other}] is not supported"
        ))),
        None => Err(not_acceptable("Content-Type header is missing".to_owned())),
    }
}

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
///
/// The paths are merged into one tree per kind (include, exclude), so paths sharing a prefix
/// share nodes, and the walk carries a de-duplicated set of tree nodes: each key of the response
/// costs at most one step per node of the tree, whatever the nesting of `**`. The work is bounded
/// by (response size × filter size), as with Elasticsearch's `FilterPath`.
pub(crate) fn filter_path(value: &Value, filter: &str) -> Value {
    let mut includes = FilterTree::new();
    let mut excludes = FilterTree::new();
    for path in filter
        .split(',')
        .map(str::trim)
        .filter(|path| !path.is_empty())
    {
        match path.strip_prefix('-') {
            Some(path) => excludes.insert(path),
            None => includes.insert(path),
        }
    }
    let included = if includes.is_empty() {
        value.clone()
    } else {
        let mut marks = includes.marks();
        let start = includes.start(&mut marks);
        if includes.any_final(&start) {
            value.clone()
        } else {
            includes
                .include(value, &start, &mut marks)
                .unwrap_or_else(|| Value::Object(serde_json::Map::new()))
        }
    };
    if excludes.is_empty() {
        return included;
    }
    let mut marks = excludes.marks();
    let start = excludes.start(&mut marks);
    if excludes.any_final(&start) {
        return Value::Object(serde_json::Map::new());
    }
    excludes.exclude(&included, &start, &mut marks)
}

/// The paths of one `filter_path` kind as a tree: node 0 is the root; a node is one segment of
/// one or more paths, shared by every path with the same prefix.
struct FilterTree {
    nodes: Vec<FilterNode>,
}

struct FilterNode {
    /// Children by segment, each segment once.
    children: Vec<(String, usize)>,
    /// This node's segment is `**`: it matches any number of keys, none included.
    double_wildcard: bool,
    /// Some path ends here: the whole subtree below a matching key is selected.
    last: bool,
}

/// Where a walk stands: tree nodes, each once.
type States = Vec<usize>;

/// Which nodes the step being computed has already reached: a node is marked when its entry
/// equals the step's number, so starting a step clears every mark at once.
struct Marks {
    step: u32,
    marked: Vec<u32>,
}

impl Marks {
    /// Starts a step: nothing is marked.
    fn next_step(&mut self) {
        self.step = self.step.wrapping_add(1);
        if self.step == 0 {
            self.marked.fill(0);
            self.step = 1;
        }
    }
}

impl FilterTree {
    fn new() -> FilterTree {
        FilterTree {
            nodes: vec![FilterNode {
                children: Vec::new(),
                double_wildcard: false,
                last: false,
            }],
        }
    }

    fn is_empty(&self) -> bool {
        self.nodes.len() == 1
    }

    /// Adds one dotted path, sharing the nodes of any path with the same prefix.
    fn insert(&mut self, path: &str) {
        let mut node = 0;
        for segment in path.split('.') {
            let existing = self.nodes[node]
                .children
                .iter()
                .find(|(known, _)| known == segment)
                .map(|(_, child)| *child);
            node = match existing {
                Some(child) => child,
                None => {
                    let child = self.nodes.len();
                    self.nodes.push(FilterNode {
                        children: Vec::new(),
                        double_wildcard: segment == "**",
                        last: false,
                    });
                    self.nodes[node].children.push((segment.to_owned(), child));
                    child
                }
            };
        }
        self.nodes[node].last = true;
    }

    fn marks(&self) -> Marks {
        Marks {
            step: 0,
            marked: vec![0; self.nodes.len()],
        }
    }

    /// The states before the first key: the root and whatever `**` reaches without a key.
    fn start(&self, marks: &mut Marks) -> States {
        marks.next_step();
        let mut states = Vec::new();
        self.enter(0, &mut states, marks);
        states
    }

    /// Adds `node` to `states` unless this step reached it already, with every `**` below it
    /// that is reached without consuming a key.
    fn enter(&self, node: usize, states: &mut States, marks: &mut Marks) {
        let mut pending = vec![node];
        while let Some(node) = pending.pop() {
            if marks.marked[node] == marks.step {
                continue;
            }
            marks.marked[node] = marks.step;
            states.push(node);
            for (_, child) in &self.nodes[node].children {
                if self.nodes[*child].double_wildcard {
                    pending.push(*child);
                }
            }
        }
    }

    /// The states after matching `key` from `states`.
    fn advance(&self, states: &[usize], key: &str, marks: &mut Marks) -> States {
        marks.next_step();
        let mut next = Vec::new();
        for &state in states {
            let node = &self.nodes[state];
            if node.double_wildcard {
                // `**` matches this key and stays for the keys below it.
                self.enter(state, &mut next, marks);
            }
            for (segment, child) in &node.children {
                if !self.nodes[*child].double_wildcard && glob(segment, key) {
                    self.enter(*child, &mut next, marks);
                }
            }
        }
        next
    }

    fn any_final(&self, states: &[usize]) -> bool {
        states.iter().any(|state| self.nodes[*state].last)
    }

    fn include(&self, value: &Value, states: &[usize], marks: &mut Marks) -> Option<Value> {
        match value {
            Value::Object(object) => {
                let mut kept = serde_json::Map::new();
                for (key, child) in object {
                    let next = self.advance(states, key, marks);
                    if self.any_final(&next) {
                        kept.insert(key.clone(), child.clone());
                    } else if !next.is_empty()
                        && let Some(child) = self.include(child, &next, marks)
                    {
                        kept.insert(key.clone(), child);
                    }
                }
                (!kept.is_empty()).then_some(Value::Object(kept))
            }
            Value::Array(items) => {
                let mut kept = Vec::new();
                for item in items {
                    if let Some(item) = self.include(item, states, marks) {
                        kept.push(item);
                    }
                }
                (!kept.is_empty()).then_some(Value::Array(kept))
            }
            _ => None,
        }
    }

    fn exclude(&self, value: &Value, states: &[usize], marks: &mut Marks) -> Value {
        match value {
            Value::Object(object) => {
                let mut kept = serde_json::Map::new();
                for (key, child) in object {
                    let next = self.advance(states, key, marks);
                    if self.any_final(&next) {
                        continue;
                    }
                    if next.is_empty() {
                        kept.insert(key.clone(), child.clone());
                    } else {
                        kept.insert(key.clone(), self.exclude(child, &next, marks));
                    }
                }
                Value::Object(kept)
            }
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| self.exclude(item, states, marks))
                    .collect(),
            ),
            other => other.clone(),
        }
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
    fn filter_path_double_wildcards_and_shared_prefixes() {
        let body = json!({"a": {"b": {"c": 1, "d": 2}, "e": 3}, "c": 4});
        let check = |filter: &str, expected: Value| {
            assert_eq!(filter_path(&body, filter), expected, "filter_path={filter}");
        };
        // `**` matches zero keys as well as many.
        check("**.c", json!({"a": {"b": {"c": 1}}, "c": 4}));
        check("a.**.d", json!({"a": {"b": {"d": 2}}}));
        check("a.**", json!({"a": {"b": {"c": 1, "d": 2}, "e": 3}}));
        check("**", body.clone());
        // Paths sharing a prefix, and a shorter path that selects the whole subtree.
        check("a.b.c,a.e", json!({"a": {"b": {"c": 1}, "e": 3}}));
        check("a.b.c,a.b", json!({"a": {"b": {"c": 1, "d": 2}}}));
        check("a.b,a.b", json!({"a": {"b": {"c": 1, "d": 2}}}));
        // Excludes, alone and after includes.
        check("-**.c", json!({"a": {"b": {"d": 2}, "e": 3}}));
        check("-**", json!({}));
        check("a,-a.b.*", json!({"a": {"b": {}, "e": 3}}));
        check("-a.**.d,-c", json!({"a": {"b": {"c": 1}, "e": 3}}));
    }

    #[test]
    fn filter_path_cost_is_bounded_for_hostile_filters() {
        // Nesting as deep as the filter: the old expansion doubled its work at every level.
        let mut deep = json!({"leaf": 1});
        for level in 0..60 {
            deep = json!({format!("k{level}"): deep, "x": [1, {"y": 2}]});
        }
        let stars = vec!["**"; 50].join(".");
        assert_eq!(filter_path(&deep, &stars), deep);
        let filter = format!("{stars}.leaf");
        let kept = filter_path(&deep, &filter);
        assert_eq!(kept.to_string().matches("leaf").count(), 1);
        assert!(!kept.to_string().contains("\"x\""));
        // Many entries, most of them repeats or sharing a prefix.
        let many: Vec<String> = (0..2000).map(|n| format!("**.k{}.**", n % 70)).collect();
        assert_eq!(
            filter_path(&deep, &many.join(",")),
            json!({"k59": deep["k59"].clone()})
        );
        let excluded = filter_path(&deep, &format!("-{stars}.leaf"));
        assert!(!excluded.to_string().contains("leaf"));
    }

    #[test]
    fn pretty_output_looks_like_jackson() {
        assert_eq!(
            pretty(&json!({"a": [1], "b": {}})),
            "{\n  \"a\" : [\n    1\n  ],\n  \"b\" : { }\n}\n".replace("{ }", "{}")
        );
    }
}
