//! The recharge use cases: begin, list dealers and branch data, effectuate, confirm or undo,
//! and resolving a call whose outcome is unknown by querying Carat.
//!
//! The rules this module keeps:
//! * a state change is committed before the call that depends on it goes out, and the call's
//!   outcome is committed before the storefront hears of it;
//! * a money-moving call (effectuate, confirm, undo) is sent at most once per state change: a
//!   lost answer leaves the recharge in doubt (`outcome_unknown`) and only a query to Carat
//!   moves it on;
//! * every step is a conditional update (`WHERE status = ..`), so two requests, or two
//!   instances, cannot both take the same step.

mod begin;
mod catalog;
mod confirm;
mod effectuate;
mod error;
mod resolve;

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

pub use catalog::{BranchData, Dealers};
pub use effectuate::EffectuateRequest;
pub use error::{CaratFailure, CaratProblem, FlowError};

use crate::carat::CaratClient;
use crate::domain::GeneralHash;
use crate::store::{self, Event, Recharge};

/// Extra time, past the client's own timeout, before another request may treat a call as over
/// (covers clock skew between instances and the time to commit its outcome).
const CALL_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Debug)]
pub struct RechargeService {
    pool: PgPool,
    carat: CaratClient,
    call_timeout: Duration,
}

impl RechargeService {
    pub fn new(pool: PgPool, carat: CaratClient, call_timeout: Duration) -> Self {
        Self {
            pool,
            carat,
            call_timeout,
        }
    }

    /// The recharge and its history.
    pub async fn get(&self, id: Uuid) -> Result<(Recharge, Vec<Event>), FlowError> {
        let recharge = self.load(id).await?;
        let events = store::recharges::events(&self.pool, id).await?;
        Ok((recharge, events))
    }

    async fn load(&self, id: Uuid) -> Result<Recharge, FlowError> {
        let recharge = store::recharges::find(&self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        // The request's span carries both ids from here on.
        let span = tracing::Span::current();
        span.record("recharge_id", tracing::field::display(recharge.id));
        if let Some(nit) = &recharge.nit {
            span.record("nit", tracing::field::display(nit));
        }
        Ok(recharge)
    }

    /// When a call sent now is over for sure.
    fn call_deadline(&self) -> chrono::DateTime<chrono::Utc> {
        let span = self.call_timeout + CALL_GRACE;
        chrono::Utc::now() + chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX)
    }

    /// The table version to send. The service keeps no copy of Carat's tables yet, so it asks
    /// for all of them every time.
    fn general_hash(&self) -> GeneralHash {
        GeneralHash::none_cached()
    }
}

/// The history entry for an outbound call: what came back, in Carat's words.
fn call_event<T: crate::carat::wire::Verdict>(
    result: &Result<T, crate::carat::CaratError>,
) -> serde_json::Value {
    use crate::carat::CaratError;
    match result {
        Ok(body) => serde_json::json!({
            "outcome": "ok",
            "esitef_code": body.esitef().map(|e| e.code.as_str()),
            "esitef_message": body.esitef().and_then(|e| e.message.as_deref()),
            "carat_status": body.status(),
        }),
        Err(CaratError::Answered(r)) => serde_json::json!({
            "outcome": if r.is_definite() { "refused" } else { "unknown" },
            "http_status": r.http_status,
            "esitef_code": r.code,
            "esitef_message": r.message,
            "carat_status": r.carat_status,
        }),
        Err(e @ CaratError::NoAnswer(_)) => {
            serde_json::json!({"outcome": "unknown", "error": e.to_string()})
        }
        Err(e @ CaratError::NotSent(_)) => {
            serde_json::json!({"outcome": "not_sent", "error": e.to_string()})
        }
    }
}

/// Why `action` cannot be taken on a recharge in `status`: the text of a 409.
fn why_not(status: crate::domain::RechargeStatus, action: &str) -> String {
    use crate::domain::RechargeStatus::*;
    let state = match status {
        Created => "has no NIT yet (its create did not complete)",
        Started => "has not been effectuated yet",
        Effectuating => "has an effectuation in progress",
        PendingConfirmation => "is already effectuated and waits to be confirmed or undone",
        Confirming => "has a confirmation in progress",
        Undoing => "has an undo in progress",
        Confirmed => "is already confirmed",
        Undone => "is already undone",
        Failed => "has failed",
        Expired => "has expired",
    };
    format!("cannot {action}: the recharge {state} (status {status})")
}
