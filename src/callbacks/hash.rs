//! The HASH notification (seed 004, digest §6.3): Carat tells the result of a card storage,
//! with the stored card's token (`hash`). Carat retries it until answered 200, and re-sends it
//! after a storage-data query. Parsed tolerantly (unknown parameters ignored), validated
//! strictly, applied and kept in the callback inbox (kind `hash`) in one transaction, then 200.
//! The same POST again changes nothing but the inbox's receipt count. A POST naming no card is
//! kept as `unmatched` and answered 200, so Carat stops retrying; a malformed one is refused
//! with a 400 naming the parameter. The inbox keeps the body with the token blanked.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{CallbackState, answer};
use carat_core::callbacks::hash::verdict;
use carat_store::callbacks::CallbackKind;
use carat_store::cards::HashFinding;
use carat_wire::callbacks::hash::{parse_post, redact_body};

/// How the log names this callback.
const WHAT: &str = "HASH notification";

pub async fn receive(
    State(state): State<CallbackState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt = answer::receipt(CallbackKind::Hash, connect, &headers, &body);
    let stored_body = redact_body(&body);
    let post = match parse_post(&body) {
        Ok(post) => post,
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
    let found = match state.callbacks.hash(&post, &receipt, &stored_body).await {
        Ok(found) => found,
        // Never 200 without the commit: Carat sends it again.
        Err(e) => return answer::unavailable(WHAT, e),
    };
    let answer = verdict(&found);
    match &found {
        HashFinding::Applied { card, applied } => tracing::info!(
            card_id = %card,
            ?applied,
            status = post.status.code(),
            token = ?post.token,
            "HASH notification applied"
        ),
        HashFinding::NoCard => tracing::warn!(nsu = %post.nsu, "HASH notification for no card"),
        HashFinding::Replay(_) => tracing::info!("HASH notification replayed; answered as before"),
    }
    answer::reply(answer.http_status, answer.reason)
}
