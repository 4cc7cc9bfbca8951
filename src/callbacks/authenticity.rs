//! The authenticity POST: Carat Portal tells us the NIT of a transaction it is creating, and
//! waits for our 200 before answering the create. Answering anything else makes Carat abort the
//! create, so the answer is the authenticity check itself: 200 only for a create this store is
//! making, and only once the NIT is committed. Every POST, refused ones included, is kept in
//! the callback inbox with what it was answered; the same POST again is answered the same and
//! changes nothing but the inbox's receipt count.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{CallbackState, answer};
use carat_core::callbacks::authenticity::Received;
use carat_store::callbacks::CallbackKind;
use carat_store::{NitCommit, NitFinding};
use carat_wire::callbacks::authenticity::parse_post;

/// How the log names this callback.
const WHAT: &str = "authenticity POST";

pub async fn receive(
    State(state): State<CallbackState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt = answer::receipt(CallbackKind::Authenticity, connect, &headers, &body);
    let post = match parse_post(&body) {
        Ok(post) => post,
        Err(e) => {
            let reason = e.to_string();
            return answer::refuse_malformed(&state.callbacks, WHAT, &receipt, &body, reason).await;
        }
    };
    let span = tracing::Span::current();
    span.record("nit", tracing::field::display(&post.nit));
    let received = match state.callbacks.authenticity(&post, &receipt).await {
        Ok(received) => received,
        // Never 200 without the commit: Carat then fails the create, which is what must happen.
        Err(e) => return answer::unavailable(WHAT, e),
    };
    if let Received::Matched(found) = &received
        && let Some(id) = found.recharge_id()
    {
        span.record("recharge_id", tracing::field::display(id));
    }
    let answer = received.verdict();
    // The outcome goes on the request's access line: one JSON line per POST, where a line of
    // its own cost about a sixth of the POST's CPU (docs/benchmarks.md). A refusal, which
    // someone should look at, still gets its own line with the reason.
    let outcome = match &received {
        Received::Matched(NitCommit::Found(NitFinding::Committed, _)) => "committed",
        Received::Matched(NitCommit::Found(NitFinding::AlreadyCommitted, _)) => "already_committed",
        Received::Matched(NitCommit::Replay(_)) => "replayed",
        Received::Matched(NitCommit::Found(..)) | Received::OtherMerchant(_) => "refused",
    };
    span.record("outcome", outcome);
    if outcome == "refused" {
        tracing::warn!(
            reason = answer.reason.as_deref(),
            "authenticity POST refused"
        );
    }
    let response = answer::reply(answer.http_status, answer.reason);
    match received {
        Received::OtherMerchant(_) => {
            answer::with_outcome(response, carat_core::metrics::CallbackOutcome::Refused)
        }
        Received::Matched(_) => response,
    }
}
