//! What the dispatcher reads of a request besides its route: the request line and headers
//! against Elasticsearch's size limits, and the body, read only once the caller is authenticated,
//! within `http.max_content_length` and the body read timeout.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt, Limited};

use super::BoxError;
use crate::HttpLimits;
use crate::error::EsError;

/// Elasticsearch's (Netty's) limits on the request line and the headers, answered as it answers
/// them. hyper refuses anything much larger before it gets here (431).
pub(super) fn check_head(
    limits: &HttpLimits,
    method: &Method,
    uri: &str,
    headers: &http::HeaderMap,
) -> Result<(), EsError> {
    // `METHOD SP request-target SP HTTP/1.1`, without the line end.
    let line = method.as_str().len() + uri.len() + 10;
    if line > limits.max_initial_line_length {
        return Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "too_long_http_line_exception",
            format!(
                "An HTTP line is larger than {} bytes.",
                limits.max_initial_line_length
            ),
        ));
    }
    let mut size = 0;
    for (name, value) in headers {
        // `name: value`, without the line end.
        size += name.as_str().len() + 2 + value.len();
    }
    if size > limits.max_header_size {
        return Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "too_long_http_header_exception",
            format!(
                "HTTP header is larger than {} bytes.",
                limits.max_header_size
            ),
        ));
    }
    Ok(())
}

/// Reads a body within `http.max_content_length` and the body read timeout.
pub(super) async fn read_body<B>(body: B, limits: &HttpLimits) -> Result<Bytes, EsError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        return Ok(Bytes::new());
    }
    let limit = limits.max_content_length;
    if body.size_hint().lower() > limit as u64 {
        // Refused from its Content-Length alone, without reading any of it.
        return Err(too_long(limit));
    }
    let collected = tokio::time::timeout(
        limits.body_read_timeout,
        Limited::new(body, limit).collect(),
    )
    .await;
    match collected {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(too_long(limit)),
        Ok(Err(err)) => Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "parse_exception",
            format!("cannot read the request body: {err}"),
        )),
        Err(_) => Err(EsError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout_exception",
            format!(
                "the request body was not received within [{}ms]",
                limits.body_read_timeout.as_millis()
            ),
        )),
    }
}

/// Elasticsearch's 400 for a body sent to an action that takes none. A body announced by its
/// length is refused unread; a chunked one is read (it may be empty) within the usual limits.
pub(super) async fn refuse_body<B>(
    body: B,
    limits: &HttpLimits,
    method: &Method,
    path: &str,
) -> Result<(), EsError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    if body.is_end_stream() {
        return Ok(());
    }
    if body.size_hint().lower() > 0 || !read_body(body, limits).await?.is_empty() {
        return Err(EsError::illegal_argument(format!(
            "request [{method} {path}] does not support having a body"
        )));
    }
    Ok(())
}

fn too_long(limit: usize) -> EsError {
    EsError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "content_too_long_exception",
        format!("request body exceeds the maximum content length of [{limit}] bytes"),
    )
}
