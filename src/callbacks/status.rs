//! The status notification (digest §6.2): Carat tells us, asynchronously and with retries,
//! that a payment's status changed. Only HTTP 200 stops the retries, so 200 means "kept and
//! applied", and nothing else does; the body is ignored by Carat.
//!
//! Applied to the payment of the recharge holding its NIT only when it moves the payment's
//! status forward ([`carat_domain::payment_status`]): a late one is kept and noted `stale`. It
//! never ends a recharge by itself: where it disagrees with the recharge's state, the
//! reconciler queries Carat now, or, for a recharge a query can no longer move, operators find
//! it as a discrepancy (`GET /api/v1/callbacks?kind=status&follow_up=discrepancy`).
//!
//! A NIT we do not know is kept as unmatched and answered 200 (so Carat stops retrying); a
//! malformed POST is refused with a 400 naming the parameter, and kept.
//!
//! Whatever its fate, its receipts are never kept in clear: a PIN sale's carries the PIN
//! ([`redact_body`]).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{CallbackState, answer};
use carat_core::callbacks::status::{self as notifications, Applied};
use carat_store::callbacks::CallbackKind;
use carat_wire::callbacks::status::{parse, redact_body};

const WHAT: &str = "status notification";

pub async fn receive(
    State(state): State<CallbackState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt = answer::receipt(CallbackKind::Status, connect, &headers, &body);
    let stored_body = redact_body(&body);
    let notification = match parse(&body) {
        Ok(n) => n,
        Err(e) => {
            let reason = e.to_string();
            return answer::refuse_malformed(
                &state.callbacks,
                WHAT,
                &receipt,
                &stored_body,
                reason,
            )
            .await;
        }
    };
    let span = tracing::Span::current();
    span.record("nit", tracing::field::display(&notification.nit));
    let applied = match state
        .callbacks
        .status(&notification, &receipt, &stored_body)
        .await
    {
        Ok(applied) => applied,
        // Never 200 without the commit: Carat sends it again.
        Err(e) => return answer::unavailable(WHAT, e),
    };
    match &applied {
        Applied::Replay(_) => tracing::info!("status notification replayed; answered as before"),
        Applied::Unmatched => tracing::warn!(
            status = %notification.status,
            "status notification for a NIT this store does not know; kept as unmatched"
        ),
        Applied::Mismatch(id) => {
            span.record("recharge_id", tracing::field::display(id));
            tracing::warn!("status notification refused: its pedido or nsu is not its recharge's")
        }
        Applied::Kept {
            recharge_id,
            advance,
            follow_up,
            note,
        } => {
            span.record("recharge_id", tracing::field::display(recharge_id));
            tracing::info!(
                status = %notification.status,
                advance = notifications::advance_str(*advance),
                note = note.as_deref(),
                follow_up = follow_up.as_str(),
                "status notification kept"
            )
        }
    }
    let verdict = applied.verdict();
    answer::reply(verdict.http_status, verdict.reason)
}
