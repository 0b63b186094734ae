//! Listings sent as they are read: a producer task reads the keys from the service a page at a
//! time, renders each page and hands it to the response body through a bounded channel, so that
//! memory is bounded by a few pages whatever the number of keys.
//!
//! Everything that can fail before the first byte (validation, authorization, the first read)
//! fails before the response is started and keeps its status. A failure after that cannot change
//! the status any more: the producer logs it and stops without ending the body, and hyper cuts
//! the connection, so the client sees a truncated response rather than a short one that looks
//! complete. A client that hangs up drops the body and with it the channel: the producer sees
//! its next send fail and stops reading.

use bytes::Bytes;
use http::StatusCode;
use keyward_service::{ApiKeyInfo, ApiKeyListing};
use tokio::sync::mpsc;

use crate::compat::{ArrayRenderer, BodyPiece, Rendering, Response, ResponseBody};
use crate::wire::api_key;

/// Rendered pages waiting for the socket: enough that reading and rendering the next page
/// overlaps with sending this one, few enough that a slow client holds only a few pages.
const PAGES_IN_FLIGHT: usize = 2;

/// A listing of keys whose first page has been read.
#[derive(Debug)]
pub(crate) struct ApiKeyPages {
    /// The first page (empty when nothing matched).
    pub(crate) first: Vec<ApiKeyInfo>,
    /// The rest of the listing.
    pub(crate) rest: ApiKeyListing,
}

/// Answers `{"api_keys": [...]}` with the keys of `pages`: in one piece when the first page was
/// the whole listing, streamed otherwise.
pub(crate) async fn respond_api_keys(
    rendering: &Rendering,
    status: StatusCode,
    pages: ApiKeyPages,
) -> Response {
    let ApiKeyPages { first, rest } = pages;
    let mut renderer = rendering.array("api_keys");
    if rest.is_finished() {
        let mut body = Vec::new();
        render_page(&mut renderer, &first, &mut body);
        renderer.finish(&mut body);
        return if rendering.is_head() {
            rendering.respond_head(status, body.len())
        } else {
            rendering.respond_streamed(status, ResponseBody::full(Bytes::from(body)))
        };
    }
    let (sender, mut receiver) = mpsc::channel(PAGES_IN_FLIGHT);
    tokio::spawn(produce(renderer, first, rest, sender));
    if rendering.is_head() {
        // The length of the body a `GET` would send, counted as it is rendered.
        let mut length = 0;
        while let Some(piece) = receiver.recv().await {
            match piece {
                BodyPiece::Data(bytes) => length += bytes.len(),
                BodyPiece::End => return rendering.respond_head(status, length),
            }
        }
        let err = crate::error::EsError::internal("the listing failed");
        return rendering.respond(err.status(), &err.body(), Some(&err));
    }
    rendering.respond_streamed(status, ResponseBody::streamed(receiver))
}

/// Renders and sends `page`, then each further page (the next one is read while this one is
/// rendered), then the end of the document. Stops at the first failed read (logged; the body
/// is left unended) or as soon as the body is gone.
async fn produce(
    mut renderer: ArrayRenderer,
    mut page: Vec<ApiKeyInfo>,
    rest: ApiKeyListing,
    sender: mpsc::Sender<BodyPiece>,
) {
    let mut rest = Some(rest);
    loop {
        let reading = match rest.take() {
            Some(mut listing) if !listing.is_finished() => Some(tokio::spawn(async move {
                let next = listing.next_page().await;
                (listing, next)
            })),
            _ => None,
        };
        let mut chunk = Vec::with_capacity(CHUNK_CAPACITY);
        render_page(&mut renderer, &page, &mut chunk);
        drop(page);
        let Some(reading) = reading else {
            renderer.finish(&mut chunk);
            if sender
                .send(BodyPiece::Data(Bytes::from(chunk)))
                .await
                .is_ok()
            {
                let _ = sender.send(BodyPiece::End).await;
            }
            return;
        };
        if sender
            .send(BodyPiece::Data(Bytes::from(chunk)))
            .await
            .is_err()
        {
            // The page being read is one page: it finishes on its own and is dropped.
            tracing::debug!("the client left during a listing: stopped reading it");
            return;
        }
        let next = match reading.await {
            Ok((listing, next)) => {
                rest = Some(listing);
                next
            }
            Err(err) => Err(keyward_service::Error::Internal(format!(
                "the read of a listing page failed: {err}"
            ))),
        };
        match next {
            Ok(Some(next)) => page = next,
            Ok(None) => page = Vec::new(),
            Err(err) => {
                tracing::error!(
                    error = %err,
                    "a listing failed after its first bytes were sent: the response is cut off"
                );
                return;
            }
        }
    }
}

/// Room for one rendered page of keys without listing extras (about 210 bytes a key).
const CHUNK_CAPACITY: usize = 256 * 1024;

fn render_page(renderer: &mut ArrayRenderer, page: &[ApiKeyInfo], out: &mut Vec<u8>) {
    for info in page {
        renderer.element(&api_key::ApiKeyView(info), out);
    }
}
