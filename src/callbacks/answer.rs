//! What the three callbacks share around their own parsing and applying: the inbox receipt of
//! a POST, keeping a refused one, and the plain-text answers Carat reads (only the status counts).

use std::net::SocketAddr;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use carat_core::callbacks::CallbackService;
use carat_store::StoreError;
use carat_store::callbacks::{CallbackKind, Receipt};

/// The POST as it arrived, for the inbox.
pub(super) fn receipt(
    kind: CallbackKind,
    connect: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Receipt {
    let header_text = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Receipt {
        kind,
        raw_body: body.to_vec(),
        content_type: header_text(header::CONTENT_TYPE),
        source_addr: connect.map(|Extension(ConnectInfo(addr))| addr.to_string()),
        forwarded_for: header_text(header::HeaderName::from_static("x-forwarded-for")),
    }
}

/// Keeps a POST refused before it reaches anything it names (`stored_body` is what the inbox
/// keeps of it), then answers it: as before, if it is a replay. `what` names the callback in
/// the log.
pub(super) async fn refuse(
    callbacks: &CallbackService,
    what: &'static str,
    receipt: &Receipt,
    stored_body: &[u8],
    status: StatusCode,
    reason: String,
) -> Response {
    tracing::warn!(%status, %reason, "{what} refused");
    match callbacks
        .refuse(receipt, stored_body, status.as_u16(), reason)
        .await
    {
        Ok(verdict) => with_outcome(
            reply(verdict.http_status, verdict.reason),
            carat_core::metrics::CallbackOutcome::Refused,
        ),
        // Answered only once kept, refusals too: Carat sends it again later.
        Err(e) => unavailable(what, e),
    }
}

/// [`refuse`] with a 400: the body did not parse; `reason` names the parameter.
pub(super) async fn refuse_malformed(
    callbacks: &CallbackService,
    what: &'static str,
    receipt: &Receipt,
    stored_body: &[u8],
    reason: String,
) -> Response {
    refuse(
        callbacks,
        what,
        receipt,
        stored_body,
        StatusCode::BAD_REQUEST,
        reason,
    )
    .await
}

/// `OK` with a 200; otherwise the reason, for whoever reads Carat's logs.
pub(super) fn reply(status: u16, reason: Option<String>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let text = if status == StatusCode::OK {
        "OK".to_owned()
    } else {
        reason.unwrap_or_else(|| status.to_string())
    };
    // For the metrics: a 404 names what this store does not hold (a NIT, an order).
    let outcome = match status.as_u16() {
        200 => carat_core::metrics::CallbackOutcome::Accepted,
        404 => carat_core::metrics::CallbackOutcome::Unmatched,
        500.. => carat_core::metrics::CallbackOutcome::Unavailable,
        _ => carat_core::metrics::CallbackOutcome::Refused,
    };
    with_outcome((status, text).into_response(), outcome)
}

/// Tells the request layer's metrics how the callback went.
pub(super) fn with_outcome(
    mut response: Response,
    outcome: carat_core::metrics::CallbackOutcome,
) -> Response {
    response.extensions_mut().insert(outcome);
    response
}

/// Never 200 without the commit: a 503 while the database is away (Carat sends the POST
/// again), a 500 for anything else; neither says more than that.
pub(super) fn unavailable(what: &'static str, e: StoreError) -> Response {
    let response = match e {
        StoreError::Unavailable(e) => {
            tracing::error!(error = %e, "{what}: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        e => {
            tracing::error!(error = %e, "{what}: could not commit");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    };
    with_outcome(response, carat_core::metrics::CallbackOutcome::Unavailable)
}
