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
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::{CallbackState, answer};
use carat_store::callbacks::{Outcome, Verdict};
use carat_store::cards::{self as rows, Applied, HashFinding, Report};
use carat_wire::callbacks::hash::{parse_post, redact_body};

fn verdict(finding: &HashFinding) -> Verdict {
    let (outcome, status, reason) = match finding {
        HashFinding::Applied { applied, .. } => match applied {
            Applied::Changed => (Outcome::Accepted, StatusCode::OK, None),
            Applied::Unchanged => (
                Outcome::Accepted,
                StatusCode::OK,
                Some("the card already says so; nothing changed"),
            ),
            Applied::Stale => (
                Outcome::Accepted,
                StatusCode::OK,
                Some("an older status than the card's (statuses only move forward); ignored"),
            ),
            Applied::Conflict => (
                Outcome::Refused,
                StatusCode::CONFLICT,
                Some("nita: the card with this nsu holds another NITA"),
            ),
        },
        HashFinding::NoCard => (
            Outcome::Unmatched,
            StatusCode::OK,
            Some("no card has this nita nor this nsu"),
        ),
        HashFinding::Replay(stored) => return answer::replayed(stored),
    };
    Verdict {
        outcome,
        http_status: status.as_u16(),
        reason: reason.map(str::to_owned),
    }
}

/// How the log names this callback.
const WHAT: &str = "HASH notification";

pub async fn receive(
    State(state): State<CallbackState>,
    connect: Option<Extension<ConnectInfo<std::net::SocketAddr>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let receipt = answer::receipt("hash", connect, &headers, &body);
    let stored_body = redact_body(&body);
    let post = match parse_post(&body) {
        Ok(post) => post,
        Err(e) => {
            let reason = e.to_string();
            return answer::refuse_malformed(&state.pool, WHAT, &receipt, &stored_body, reason)
                .await;
        }
    };
    let report = Report {
        status: Some(post.status),
        nita: post.nita.as_ref().map(|n| n.as_str().to_owned()),
        nsua: post.nsua.as_ref().map(|n| n.as_str().to_owned()),
        token: post.token.as_ref().map(|t| t.expose().to_owned()),
        bin: post.bin.as_ref().map(|b| b.as_str().to_owned()),
        last4: post.last4.as_ref().map(|l| l.as_str().to_owned()),
    };
    let usn = i64::try_from(post.nsu.get()).unwrap_or(i64::MAX);
    let found =
        rows::apply_notification(&state.pool, &receipt, &stored_body, usn, &report, verdict).await;
    let found = match found {
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
