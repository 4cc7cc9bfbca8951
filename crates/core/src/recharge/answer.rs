//! What a step that ended a recharge in failure answers, derived from the stored record alone
//! (the recharge and its history), so that a repeat of the step answers exactly as the first
//! request did: the first answer is made by the same function, after the record is written.

use serde_json::Value;

use super::{CaratFailure, CaratProblem};
use carat_domain::{CaratStatus, RechargeStatus};
use carat_store::{Event, EventKind, Recharge};

/// The answer to the step that was in flight in `step` (effectuating, confirming, undoing) if
/// that step is what ended `recharge` in failure (failed or expired). `None` when the recharge
/// did not end that way, or something else ended it (the reconciler, another step): then the
/// step is simply out of order.
pub(super) fn of_failed_step(
    recharge: &Recharge,
    events: &[Event],
    step: RechargeStatus,
) -> Option<CaratProblem> {
    let end = recharge.status;
    if !ended_in_failure(end) {
        return None;
    }
    let (from, http_status) = ending(events, end)?;
    (from == step.as_str()).then(|| {
        problem(
            end,
            recharge.carat_status.as_ref().map(CaratStatus::as_str),
            recharge.last_error_code.as_deref(),
            recharge.last_error_message.as_deref(),
            http_status,
        )
    })
}

/// Whether a recharge in `status` may owe a step its failure as the answer: only then is its
/// history worth reading (see [`of_failed_step`]).
pub(super) fn ended_in_failure(status: RechargeStatus) -> bool {
    matches!(status, RechargeStatus::Failed | RechargeStatus::Expired)
}

/// The state the recharge left to reach `end`, and the HTTP status of the call whose answer
/// moved it (kept just before the state change, in the same transaction), if one did.
fn ending(events: &[Event], end: RechargeStatus) -> Option<(String, Option<u16>)> {
    let at = events
        .iter()
        .rposition(|e| e.kind == EventKind::StateChange && e.detail["to"] == end.as_str())?;
    let from = events[at].detail["from"].as_str()?.to_owned();
    let http_status = events[..at]
        .last()
        .filter(|e| e.kind == EventKind::OutboundCall)
        .and_then(|e| http_status_of(&e.detail));
    Some((from, http_status))
}

/// The HTTP status an outbound call's history entry records: 200 for an answer the client
/// read as a success (a denial comes as a 200 with status NEG).
fn http_status_of(detail: &Value) -> Option<u16> {
    if detail["outcome"] == "ok" {
        return Some(200);
    }
    detail["http_status"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
}

fn problem(
    end: RechargeStatus,
    carat_status: Option<&str>,
    code: Option<&str>,
    words: Option<&str>,
    http_status: Option<u16>,
) -> CaratProblem {
    let shown = carat_status.unwrap_or("none");
    let answered = match http_status {
        Some(200) | None => format!("Carat Portal answered status {shown}"),
        Some(h) => format!("Carat Portal answered HTTP {h} with status {shown}"),
    };
    let message = match words {
        Some(words) => format!("{answered}: {words}"),
        None => answered,
    };
    let failure = match end {
        RechargeStatus::Failed => CaratFailure::Denied,
        _ => CaratFailure::Refused,
    };
    CaratProblem {
        failure,
        message,
        http_status,
        code: code.map(str::to_owned),
        carat_message: words.map(str::to_owned),
        carat_status: carat_status.map(str::to_owned),
        answered: http_status.is_some(),
        recharge_status: Some(end),
        recharge_id: None,
        call: None,
        timeout_ms: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: EventKind, detail: Value) -> Event {
        Event {
            id: 0,
            at: chrono::Utc::now(),
            kind,
            name: String::new(),
            actor: None,
            detail,
        }
    }

    fn change(from: &str, to: &str) -> Event {
        event(EventKind::StateChange, json!({"from": from, "to": to}))
    }

    fn call(detail: Value) -> Event {
        event(EventKind::OutboundCall, detail)
    }

    #[test]
    fn the_step_that_ended_it_and_its_calls_http_status_are_read_from_the_history() {
        let events = [
            change("started", "effectuating"),
            call(json!({"outcome": "ok", "carat_status": "NEG"})),
            change("effectuating", "failed"),
        ];
        assert_eq!(
            ending(&events, RechargeStatus::Failed),
            Some(("effectuating".to_owned(), Some(200)))
        );
        assert_eq!(ending(&events, RechargeStatus::Expired), None);

        let refused = [
            call(json!({"outcome": "refused", "http_status": 400})),
            change("confirming", "expired"),
        ];
        assert_eq!(
            ending(&refused, RechargeStatus::Expired),
            Some(("confirming".to_owned(), Some(400)))
        );
        // Ended by the reconciler after a query: no call of the step's own.
        let by_query = [call(json!({"outcome": "ok"})), change("started", "expired")];
        assert_eq!(
            ending(&by_query, RechargeStatus::Expired).map(|(from, _)| from),
            Some("started".to_owned())
        );
    }

    #[test]
    fn a_denial_answers_in_the_authorizers_words() {
        let p = problem(
            RechargeStatus::Failed,
            Some("NEG"),
            Some("05"),
            Some("TRANSACAO NEGADA"),
            Some(200),
        );
        assert_eq!(p.failure, CaratFailure::Denied);
        assert_eq!(
            p.message,
            "Carat Portal answered status NEG: TRANSACAO NEGADA"
        );
        assert_eq!(p.code.as_deref(), Some("05"));
        assert_eq!(p.recharge_status, Some(RechargeStatus::Failed));

        let p = problem(RechargeStatus::Expired, Some("EXP"), None, None, Some(400));
        assert_eq!(p.failure, CaratFailure::Refused);
        assert_eq!(p.message, "Carat Portal answered HTTP 400 with status EXP");
    }
}
