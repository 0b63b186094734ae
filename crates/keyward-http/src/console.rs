//! `/_keyward/console/`: the web console's page and files (`keyward-console`), answered before
//! routing and without credentials — they are the same for everyone and hold no data; the
//! console's own API calls authenticate like any client's.
//!
//! Every answer carries a strict Content-Security-Policy (files from this origin only, no
//! inline script or style, no framing), `nosniff` and `X-Frame-Options: DENY`. Files are
//! revalidated by their entity tag, so a new binary's console is never served from a stale
//! cache.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};

use crate::compat::{Response, ResponseBody};

/// The console's path; the page is at this path plus `/`.
pub(crate) const PREFIX: &str = "/_keyward/console";

/// What the page may load and who may frame it: only this origin, nothing inline, no one.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether `path` is the console's (the bare prefix or anything below it).
pub(crate) fn is_console(path: &str) -> bool {
    path.strip_prefix(PREFIX)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The answer for a console path: the file, 304 when the client's copy is current, a redirect
/// from the bare prefix to the page, 404 for a file the console does not have, 405 for a
/// method other than `GET` and `HEAD`.
pub(crate) fn respond(method: &Method, path: &str, headers: &HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed\n");
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let rest = path.strip_prefix(PREFIX).unwrap_or_default();
    let Some(name) = rest.strip_prefix('/') else {
        // The page's relative links resolve against the directory, so the bare prefix moves
        // there.
        let mut response = plain(StatusCode::PERMANENT_REDIRECT, "");
        response.headers_mut().insert(
            header::LOCATION,
            HeaderValue::from_static("/_keyward/console/"),
        );
        return response;
    };
    let Some(asset) = keyward_console::asset(name) else {
        return plain(StatusCode::NOT_FOUND, "no such file in the console\n");
    };
    let etag = HeaderValue::from_static(asset.etag);
    let current = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == asset.etag
        });
    let (status, body) = if current {
        (StatusCode::NOT_MODIFIED, Bytes::new())
    } else if method == Method::HEAD {
        (StatusCode::OK, Bytes::new())
    } else {
        (StatusCode::OK, Bytes::from_static(asset.bytes))
    };
    let mut response = with_policy(status, body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if method == Method::HEAD && !current {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(asset.bytes.len()));
    }
    headers.insert(header::ETAG, etag);
    // Kept, but checked with the server before each use: the tag makes that a 304.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// A short plain-text answer with the console's security headers.
fn plain(status: StatusCode, text: &'static str) -> Response {
    let mut response = with_policy(status, Bytes::from_static(text.as_bytes()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// A response with the headers every console answer carries.
fn with_policy(status: StatusCode, body: Bytes) -> Response {
    let mut response = Response::new(ResponseBody::full(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_and_paths_below_it_are_the_consoles_and_nothing_else() {
        assert!(is_console("/_keyward/console"));
        assert!(is_console("/_keyward/console/"));
        assert!(is_console("/_keyward/console/app.js"));
        assert!(!is_console("/_keyward/consoles"));
        assert!(!is_console("/_keyward/metrics"));
    }
}
