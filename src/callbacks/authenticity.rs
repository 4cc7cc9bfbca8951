//! The authenticity POST: Carat Portal tells us the NIT of a transaction it is creating, and
//! waits for our 200 before answering the create. Answering anything else makes Carat abort the
//! create, so the answer is the authenticity check itself: 200 only for a create this store is
//! making, and only once the NIT is committed. Every POST, refused ones included, is kept in
//! the callback inbox with what it was answered; the same POST again is answered the same and
//! changes nothing but the inbox's receipt count.

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{CallbackState, answer};
use carat_store::callbacks::{Outcome, Verdict};
use carat_store::{self as store, NitCommit, NitFinding, NitPost};
use carat_wire::callbacks::authenticity::parse_post;

/// How each finding is answered (a replay is answered as the first POST was).
fn verdict(finding: NitFinding) -> Verdict {
    let (outcome, status, reason) = match finding {
        NitFinding::Committed | NitFinding::AlreadyCommitted => {
            (Outcome::Accepted, StatusCode::OK, None)
        }
        NitFinding::NoRecharge => (
            Outcome::Unmatched,
            StatusCode::NOT_FOUND,
            Some("no create of this store is waiting for a NIT with this orderId and merchantUSN"),
        ),
        NitFinding::NotWaiting => (
            Outcome::Refused,
            StatusCode::NOT_FOUND,
            Some("this create is no longer waiting for a NIT (it failed or was given up)"),
        ),
        NitFinding::Conflict => (
            Outcome::Refused,
            StatusCode::CONFLICT,
            Some("this order already holds another NIT, or this NIT belongs to another order"),
        ),
    };
    Verdict {
        outcome,
        http_status: status.as_u16(),
        reason: reason.map(str::to_owned),
    }
}

/// How the log names this callback.
const WHAT: &str = "authenticity POST";

pub async fn receive(
    State(state): State<CallbackState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt = answer::receipt("authenticity", connect, &headers, &body);
    let post = match parse_post(&body) {
        Ok(post) => post,
        Err(e) => {
            let reason = e.to_string();
            return answer::refuse_malformed(&state.pool, WHAT, &receipt, &body, reason).await;
        }
    };
    let span = tracing::Span::current();
    span.record("nit", tracing::field::display(&post.nit));
    if post.merchant_id != state.merchant_id {
        let reason = "merchantId: not this store's merchant id".to_owned();
        return answer::refuse(
            &state.pool,
            WHAT,
            &receipt,
            &body,
            StatusCode::FORBIDDEN,
            reason,
        )
        .await;
    }

    let detail = serde_json::json!({
        "nit": post.nit,
        "merchantId": post.merchant_id.as_str(),
        "orderId": post.order_id,
        "merchantUSN": post.merchant_usn.to_string(),
        "generalHash": post.general_hash,
    });
    let found = store::recharges::commit_nit(
        &state.pool,
        &state.lane,
        NitPost {
            order_id: &post.order_id,
            merchant_usn: post.merchant_usn,
            nit: &post.nit,
            general_hash: &post.general_hash,
        },
        state.nit_lifetime,
        &receipt,
        verdict,
        detail,
    )
    .await;
    let found = match found {
        Ok(found) => found,
        // Never 200 without the commit: Carat then fails the create, which is what must happen.
        Err(e) => return answer::unavailable(WHAT, e),
    };
    if let Some(id) = found.recharge_id() {
        span.record("recharge_id", tracing::field::display(id));
    }
    let answer = match &found {
        NitCommit::Found(finding, _) => verdict(*finding),
        NitCommit::Replay(stored) => answer::replayed(stored),
    };
    // The outcome goes on the request's access line: one JSON line per POST, where a line of
    // its own cost about a sixth of the POST's CPU (docs/benchmarks.md). A refusal, which
    // someone should look at, still gets its own line with the reason.
    let outcome = match &found {
        NitCommit::Found(NitFinding::Committed, _) => "committed",
        NitCommit::Found(NitFinding::AlreadyCommitted, _) => "already_committed",
        NitCommit::Replay(_) => "replayed",
        NitCommit::Found(..) => "refused",
    };
    span.record("outcome", outcome);
    if outcome == "refused" {
        tracing::warn!(
            reason = answer.reason.as_deref(),
            "authenticity POST refused"
        );
    }
    answer::reply(answer.http_status, answer.reason)
}
