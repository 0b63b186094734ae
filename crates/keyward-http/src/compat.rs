//! What makes a response look like Elasticsearch's to a client: the `X-Elastic-Product` header,
//! JSON (or versioned vendor JSON) content types, and the `pretty` and `filter_path` parameters.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
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
    /// `error_trace`: errors carry a `stack_trace`.
    error_trace: bool,
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
            error_trace: query
                .raw("error_trace")
                .is_some_and(|value| value != "false"),
        };
        // `format` picks the response's content type in Elasticsearch (a value it does not know
        // leaves JSON). keyward writes JSON only: the other formats are refused, not ignored.
        if let Some(format) = query.raw("format") {
            let lowered = format.to_ascii_lowercase();
            if matches!(lowered.as_str(), "yaml" | "cbor" | "smile") {
                return (
                    rendering,
                    Err(EsError::illegal_argument(format!(
                        "format [{format}] is not supported: keyward renders JSON only"
                    ))),
                );
            }
        }
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
        let traced;
        let body = if self.error_trace && error.is_some() {
            traced = with_stack_traces(body);
            &traced
        } else {
            body
        };
        // Elasticsearch builds error bodies without `filter_path` (they are always whole, so a
        // client that filters still sees why it failed); `pretty` applies to them as to any.
        let text = self.render(body, error.is_none());
        self.finish(status, ResponseBody::full(Bytes::from(text)), error)
    }

    /// The bytes of `body` as the client asked for them: filtered (when `filtered`), compact or
    /// pretty.
    fn render(&self, body: &Value, filtered_if_asked: bool) -> Vec<u8> {
        let filtered;
        let body = match &self.filter_path {
            Some(filter) if filtered_if_asked => {
                filtered = FilterPath::new(filter).apply(body);
                &filtered
            }
            _ => body,
        };
        let mut out = Vec::new();
        write_json(&mut out, body, self.pretty.then_some(0));
        if self.pretty {
            out.push(b'\n');
        }
        out
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
        self.finish(status, ResponseBody::full(body), None)
    }

    /// Sends a body that is not JSON (the metrics text) as it is, with `content_type`:
    /// `pretty` and `filter_path` do not apply to it.
    /// A response without a body (nor a media type).
    pub(crate) fn respond_empty(&self, status: StatusCode) -> Response {
        let mut response = self.finish(status, ResponseBody::full(Bytes::new()), None);
        response.headers_mut().remove(header::CONTENT_TYPE);
        response
    }

    pub(crate) fn respond_text(
        &self,
        status: StatusCode,
        body: Bytes,
        content_type: &'static str,
    ) -> Response {
        let mut response = self.finish(status, ResponseBody::full(body), None);
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    }

    /// A renderer of the document `{"<field>": [elements…]}` one element at a time, with the
    /// bytes [`Rendering::respond`] would produce for the whole document.
    pub(crate) fn array(&self, field: &'static str) -> ArrayRenderer {
        ArrayRenderer {
            field,
            pretty: self.pretty,
            filter: self.filter_path.as_deref().map(FilterPath::new),
            started: false,
        }
    }

    /// Whether this is a `HEAD` request: the answer carries the body's length, not the body.
    pub(crate) fn is_head(&self) -> bool {
        self.head
    }

    /// A successful answer whose body is sent as it is produced (chunked): the status and
    /// headers go out before the body is complete.
    pub(crate) fn respond_streamed(&self, status: StatusCode, body: ResponseBody) -> Response {
        self.finish(status, body, None)
    }

    /// The answer to a `HEAD` request whose `GET` body would be `length` bytes.
    pub(crate) fn respond_head(&self, status: StatusCode, length: usize) -> Response {
        let mut response = self.finish(status, ResponseBody::full(Bytes::new()), None);
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        response
    }

    fn finish(&self, status: StatusCode, body: ResponseBody, error: Option<&EsError>) -> Response {
        let length = body.full_length();
        let body = if self.head {
            ResponseBody::full(Bytes::new())
        } else {
            body
        };
        let mut response = Response::new(body);
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        headers.insert(X_ELASTIC_PRODUCT, HeaderValue::from_static("Elasticsearch"));
        if self.head
            && let Some(length) = length
        {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        if let Some(error) = error {
            error.apply_headers(headers);
        }
        response
    }
}

/// An error body with `error_trace`: every error object (the error, its root causes and its
/// causes) gets a `stack_trace`. Elasticsearch's is a Java stack; keyward has none to show, so
/// the trace is the error's chain as Java prints one without frames: `type: reason`, then a
/// `Caused by: type: reason` line per cause.
fn with_stack_traces(body: &Value) -> Value {
    fn trace(error: &serde_json::Map<String, Value>) -> String {
        let line = |error: &serde_json::Map<String, Value>| {
            format!(
                "{}: {}",
                error
                    .get("type")
                    .and_then(Value::as_str)
                    .unwrap_or("exception"),
                error.get("reason").and_then(Value::as_str).unwrap_or("")
            )
        };
        let mut text = line(error);
        let mut cause = error.get("caused_by").and_then(Value::as_object);
        while let Some(next) = cause {
            text.push_str("\nCaused by: ");
            text.push_str(&line(next));
            cause = next.get("caused_by").and_then(Value::as_object);
        }
        text
    }
    fn annotate(error: &mut serde_json::Map<String, Value>) {
        if let Some(Value::Array(roots)) = error.get_mut("root_cause") {
            for root in roots.iter_mut().filter_map(Value::as_object_mut) {
                annotate(root);
            }
        }
        if let Some(Value::Object(cause)) = error.get_mut("caused_by") {
            annotate(cause);
        }
        let text = trace(error);
        error.insert("stack_trace".to_owned(), Value::String(text));
    }
    let mut body = body.clone();
    if let Some(Value::Object(error)) = body.get_mut("error") {
        annotate(error);
    }
    body
}

/// Renders `{"<field>": [elements…]}` an element at a time, byte for byte as
/// [`Rendering::respond`] renders the whole document, `pretty` and `filter_path` included: a
/// listing of any length goes out in chunks without ever being held whole.
///
/// `filter_path` applies to each element on its own: arrays are transparent to it, so what it
/// keeps of one element never depends on another. Only whether anything is kept at all
/// matters to the document around them (an include filter that keeps nothing leaves `{}`), and
/// that is decided at [`ArrayRenderer::finish`], before which nothing has been written unless
/// some element was kept.
#[derive(Debug)]
pub(crate) struct ArrayRenderer {
    field: &'static str,
    pretty: bool,
    filter: Option<FilterPath>,
    /// The opening of the document has been written.
    started: bool,
}

impl ArrayRenderer {
    /// Appends one element (with whatever comes before it) to `out`.
    pub(crate) fn element<T: serde::Serialize + ?Sized>(&mut self, element: &T, out: &mut Vec<u8>) {
        let Some(filter) = &self.filter else {
            self.separator(out);
            write_json(out, element, self.pretty.then_some(2));
            return;
        };
        let element = match serde_json::to_value(element) {
            Ok(element) => element,
            Err(err) => {
                tracing::error!(error = %err, "cannot render a listed element");
                Value::Null
            }
        };
        let mut document = serde_json::Map::new();
        document.insert(self.field.to_owned(), Value::Array(vec![element]));
        // A filter keeps the element (what it keeps of it) or drops it: the result is
        // `{field: [kept]}` or `{}`.
        let Value::Object(mut kept) = filter.apply(&Value::Object(document)) else {
            return;
        };
        let Some(Value::Array(mut items)) = kept.remove(self.field) else {
            return;
        };
        let Some(kept) = items.pop() else {
            return;
        };
        self.separator(out);
        write_json(out, &kept, self.pretty.then_some(2));
    }

    /// Writes what comes before an element: the opening of the document before the first one,
    /// a comma before the others.
    fn separator(&mut self, out: &mut Vec<u8>) {
        if self.started {
            out.extend_from_slice(if self.pretty { b",\n    " } else { b"," });
        } else {
            self.started = true;
            out.push(b'{');
            if self.pretty {
                out.extend_from_slice(b"\n  ");
            }
            write_json(out, self.field, None);
            out.extend_from_slice(if self.pretty { b" : [\n    " } else { b":[" });
        }
    }

    /// Appends the end of the document to `out`: the closing brackets, or the whole document
    /// when no element was written.
    pub(crate) fn finish(self, out: &mut Vec<u8>) {
        if self.started {
            out.extend_from_slice(if self.pretty { b"\n  ]\n}\n" } else { b"]}" });
            return;
        }
        let mut document = serde_json::Map::new();
        document.insert(self.field.to_owned(), Value::Array(Vec::new()));
        let document = Value::Object(document);
        let document = match &self.filter {
            Some(filter) => filter.apply(&document),
            None => document,
        };
        write_json(out, &document, self.pretty.then_some(0));
        if self.pretty {
            out.push(b'\n');
        }
    }
}

/// A response body: complete (almost every answer), or sent as it is produced, through a
/// bounded channel from the task producing it (large listings).
///
/// A streamed body ends cleanly only when its producer says so ([`BodyPiece::End`]); a producer
/// that stops without saying so (it failed, or panicked) makes the body fail, and hyper then
/// cuts the connection instead of ending the chunked body: the client sees a truncated
/// response, never a short one that looks complete.
pub struct ResponseBody {
    kind: BodyKind,
}

enum BodyKind {
    Full(Option<Bytes>),
    Streamed {
        pieces: tokio::sync::mpsc::Receiver<BodyPiece>,
        ended: bool,
    },
}

/// What a streamed body's producer sends.
#[derive(Debug)]
pub(crate) enum BodyPiece {
    /// The next bytes.
    Data(Bytes),
    /// The body is complete.
    End,
}

impl ResponseBody {
    /// A complete body.
    pub(crate) fn full(bytes: Bytes) -> ResponseBody {
        ResponseBody {
            kind: BodyKind::Full(Some(bytes)),
        }
    }

    /// A body fed by `pieces`.
    pub(crate) fn streamed(pieces: tokio::sync::mpsc::Receiver<BodyPiece>) -> ResponseBody {
        ResponseBody {
            kind: BodyKind::Streamed {
                pieces,
                ended: false,
            },
        }
    }

    /// The length of a complete body.
    fn full_length(&self) -> Option<usize> {
        match &self.kind {
            BodyKind::Full(bytes) => Some(bytes.as_ref().map_or(0, Bytes::len)),
            BodyKind::Streamed { .. } => None,
        }
    }
}

impl hyper::body::Body for ResponseBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, std::io::Error>>> {
        use std::task::Poll;
        match &mut self.get_mut().kind {
            BodyKind::Full(bytes) => Poll::Ready(
                bytes
                    .take()
                    .filter(|bytes| !bytes.is_empty())
                    .map(|bytes| Ok(hyper::body::Frame::data(bytes))),
            ),
            BodyKind::Streamed { ended: true, .. } => Poll::Ready(None),
            BodyKind::Streamed { pieces, ended } => match pieces.poll_recv(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(Some(BodyPiece::Data(bytes))) => {
                    Poll::Ready(Some(Ok(hyper::body::Frame::data(bytes))))
                }
                Poll::Ready(Some(BodyPiece::End)) => {
                    *ended = true;
                    Poll::Ready(None)
                }
                Poll::Ready(None) => {
                    *ended = true;
                    Poll::Ready(Some(Err(std::io::Error::other(
                        "the response body was cut off: its producer stopped",
                    ))))
                }
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            BodyKind::Full(bytes) => bytes.as_ref().is_none_or(Bytes::is_empty),
            BodyKind::Streamed { ended, .. } => *ended,
        }
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match &self.kind {
            BodyKind::Full(bytes) => hyper::body::SizeHint::with_exact(
                bytes.as_ref().map_or(0, |bytes| bytes.len() as u64),
            ),
            BodyKind::Streamed { .. } => hyper::body::SizeHint::default(),
        }
    }
}

impl std::fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            BodyKind::Full(bytes) => f
                .debug_struct("ResponseBody")
                .field("length", &bytes.as_ref().map_or(0, Bytes::len))
                .finish(),
            BodyKind::Streamed { ended, .. } => f
                .debug_struct("ResponseBody")
                .field("streamed", &true)
                .field("ended", ended)
                .finish(),
        }
    }
}

/// Every response keyward sends.
pub(crate) type Response = http::Response<ResponseBody>;

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

/// Writes `value` as JSON to `out`: compact for `None`, or as Jackson's pretty printer writes it
/// (Elasticsearch's `?pretty`: two-space indent, `"key" : value`) starting `indent` levels deep,
/// which is how one element of a pretty array is written on its own.
fn write_json<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T, indent: Option<usize>) {
    let written = match indent {
        None => serde_json::to_writer(&mut *out, value),
        Some(indent) => {
            let mut serializer = serde_json::Serializer::with_formatter(
                &mut *out,
                Jackson {
                    indent,
                    has_value: false,
                },
            );
            value.serialize(&mut serializer)
        }
    };
    // Serializing JSON documents into memory cannot fail: their keys are strings and a `Vec`
    // takes every write.
    if let Err(err) = written {
        tracing::error!(error = %err, "cannot render a JSON value");
    }
}

/// Jackson's pretty printer as a `serde_json` formatter; the same as serde_json's
/// `PrettyFormatter` but for `" : "` after keys, and able to start deeper than the top level.
struct Jackson {
    indent: usize,
    has_value: bool,
}

impl Jackson {
    fn newline<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b"\n")?;
        for _ in 0..self.indent {
            w.write_all(b"  ")?;
        }
        Ok(())
    }

    fn open<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.indent += 1;
        self.has_value = false;
        w.write_all(bracket)
    }

    fn close<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        bracket: &[u8],
    ) -> std::io::Result<()> {
        self.indent = self.indent.saturating_sub(1);
        if self.has_value {
            self.newline(w)?;
        }
        w.write_all(bracket)
    }

    fn item<W: ?Sized + std::io::Write>(&mut self, w: &mut W, first: bool) -> std::io::Result<()> {
        if !first {
            w.write_all(b",")?;
        }
        self.newline(w)
    }
}

impl serde_json::ser::Formatter for Jackson {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"[")
    }
    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"]")
    }
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.open(w, b"{")
    }
    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.close(w, b"}")
    }
    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.item(w, first)
    }
    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b" : ")
    }
    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _w: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Elasticsearch's `filter_path`: comma-separated dotted paths with `*` and `**`
/// wildcards; a leading `-` excludes. Arrays are transparent.
///
/// The paths are merged into one tree per kind (include, exclude), so paths sharing a prefix
/// share nodes, and the walk carries a de-duplicated set of tree nodes: each key of the response
/// costs at most one step per node of the tree, whatever the nesting of `**`. The work is bounded
/// by (response size × filter size), as with Elasticsearch's `FilterPath`.
#[derive(Debug)]
pub(crate) struct FilterPath {
    includes: FilterTree,
    excludes: FilterTree,
}

impl FilterPath {
    /// Compiles a `filter_path` parameter.
    pub(crate) fn new(filter: &str) -> FilterPath {
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
        FilterPath { includes, excludes }
    }

    /// What the filter keeps of `value`.
    pub(crate) fn apply(&self, value: &Value) -> Value {
        let FilterPath { includes, excludes } = self;
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
}

/// The paths of one `filter_path` kind as a tree: node 0 is the root; a node is one segment of
/// one or more paths, shared by every path with the same prefix.
#[derive(Debug)]
struct FilterTree {
    nodes: Vec<FilterNode>,
}

#[derive(Debug)]
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

    fn filter_path(value: &Value, filter: &str) -> Value {
        FilterPath::new(filter).apply(value)
    }

    fn pretty(value: &Value) -> String {
        let mut out = Vec::new();
        write_json(&mut out, value, Some(0));
        out.push(b'\n');
        String::from_utf8(out).unwrap()
    }

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

    /// The incremental renderer writes the bytes the buffered one writes for the whole
    /// document, whatever the rendering options and elements.
    #[test]
    fn array_renderer_matches_the_buffered_rendering() {
        let elements = [
            json!({"id": "a", "name": "x", "metadata": {"tier": 1, "tags": ["p", {"q": []}]},
                   "role_descriptors": {}, "limited_by": [{"r": {"cluster": ["all"]}}]}),
            json!({"id": "b", "name": "y", "metadata": {}, "role_descriptors": {"r": {"indices": []}}}),
            json!({"id": "c\"\n\u{1F511}", "name": "z", "invalidated": false, "creation": 17}),
        ];
        let filters = [
            None,
            Some("api_keys.id"),
            Some("api_keys.*e"),
            Some("**.tier"),
            Some("api_keys.metadata.tier,api_keys.id"),
            Some("-api_keys.metadata"),
            Some("-api_keys"),
            Some("-**.id,api_keys.*"),
            Some("api_keys"),
            Some("**"),
            Some("total"),
            Some("-**"),
            Some(""),
        ];
        for count in 0..=elements.len() {
            for filter in filters {
                for pretty in [false, true] {
                    let rendering = Rendering {
                        content_type: JSON,
                        pretty,
                        filter_path: filter.map(str::to_owned),
                        head: false,
                        error_trace: false,
                    };
                    let whole = json!({"api_keys": elements[..count].to_vec()});
                    let buffered = rendering.render(&whole, true);
                    // The buffered rendering is serde_json's, with Jackson's `" : "`.
                    let filtered = match filter {
                        Some(filter) => filter_path(&whole, filter),
                        None => whole.clone(),
                    };
                    let expected = if pretty {
                        serde_json::to_string_pretty(&filtered)
                            .unwrap()
                            .replace("\": ", "\" : ")
                            + "\n"
                    } else {
                        filtered.to_string()
                    };
                    assert_eq!(String::from_utf8_lossy(&buffered), expected);
                    let mut streamed = Vec::new();
                    let mut renderer = rendering.array("api_keys");
                    for element in &elements[..count] {
                        renderer.element(element, &mut streamed);
                    }
                    renderer.finish(&mut streamed);
                    assert_eq!(
                        String::from_utf8_lossy(&streamed),
                        String::from_utf8_lossy(&buffered),
                        "{count} elements, filter_path={filter:?}, pretty={pretty}"
                    );
                }
            }
        }
    }

    /// A streamed body ends cleanly only when its producer says so: a producer that stops
    /// without saying so fails the body, which makes hyper cut the connection.
    #[tokio::test]
    async fn a_streamed_body_fails_unless_its_producer_ends_it() {
        use http_body_util::BodyExt;
        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let mut body = ResponseBody::streamed(receiver);
        sender
            .send(BodyPiece::Data(Bytes::from_static(b"{\"a\":[")))
            .await
            .unwrap();
        drop(sender);
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"{\"a\":["));
        assert!(body.frame().await.unwrap().is_err());
        assert!(body.frame().await.is_none());

        let (sender, receiver) = tokio::sync::mpsc::channel(2);
        let body = ResponseBody::streamed(receiver);
        sender
            .send(BodyPiece::Data(Bytes::from_static(b"{}")))
            .await
            .unwrap();
        sender.send(BodyPiece::End).await.unwrap();
        drop(sender);
        let collected = body.collect().await.unwrap().to_bytes();
        assert_eq!(collected, Bytes::from_static(b"{}"));
    }

    #[test]
    fn pretty_output_looks_like_jackson() {
        assert_eq!(
            pretty(&json!({"a": [1], "b": {}})),
            "{\n  \"a\" : [\n    1\n  ],\n  \"b\" : { }\n}\n".replace("{ }", "{}")
        );
    }
}
