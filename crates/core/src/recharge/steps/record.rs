//! Recording a call's outcome under the step's guard, durably: a database that fails after
//! the call does not lose it. A call whose outcome is unknown leaves the recharge in doubt.

use std::time::Duration;

use uuid::Uuid;

use super::super::answer;
use crate::carat::{CaratError, Exchange};
use crate::recharge::{CaratFailure, CaratProblem, FlowError, RechargeService};
use carat_domain::{Actor, CaratStatus, RechargeStatus};
use carat_store::{self as store, CallRecord, Changes, Guard, Recharge, Step, StoreError};

/// What a failed money-moving call means.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Failure {
    /// Carat may have acted on it: only a query can tell.
    InDoubt,
    /// Carat certainly did not act on it: back to where the step may be taken again.
    NotApplied,
    /// Carat refused it and reported a final status (EXP, NEG...): the recharge ends there.
    Ended(RechargeStatus),
}

/// Sorts a failed call. `before` is Carat's status while the call was not yet applied (NOV for
/// an effectuation, PPC for a confirmation): a refusal that reports anything else is not a
/// refusal we can trust to mean "nothing happened" (an effectuation refused while Carat says
/// PPC is in doubt, never sent back to `started`).
fn sort_failure(in_flight: RechargeStatus, before: &CaratStatus, error: &CaratError) -> Failure {
    if !error.certainly_not_applied() {
        return Failure::InDoubt;
    }
    let problem = CaratProblem::not_applied(error);
    match problem.carat_status.as_deref().map(CaratStatus::parse) {
        None => Failure::NotApplied,
        Some(s) if s == *before => Failure::NotApplied,
        Some(_) => problem
            .ends(in_flight)
            .map_or(Failure::InDoubt, Failure::Ended),
    }
}

impl RechargeService {
    /// Records a call's outcome. When the database fails, the storefront is told the outcome
    /// is unknown (never "try again": the call may have moved money), and the record is
    /// retried in the background until the database returns. `Ok` carries what is stored now,
    /// whoever wrote it.
    pub(in crate::recharge) async fn record(&self, step: Step) -> Result<Recharge, FlowError> {
        let (id, from) = (step.id, step.from);
        match store::recharges::apply(&self.pool, step.clone()).await {
            Ok(Some(recharge)) => Ok(recharge),
            // A newer attempt, another instance or the reconciler moved it: what it stored stands.
            Ok(None) => self.load(id).await,
            Err(e) => {
                tracing::error!(recharge_id = %id, error = %e, "could not record a call's outcome; retrying in the background");
                let pool = self.pool.clone();
                tokio::spawn(record_when_the_database_returns(pool, step));
                Err(FlowError::OutcomeUnrecorded { status: from })
            }
        }
    }

    /// Records that a money-moving call's outcome is unknown: the recharge stays in `status`
    /// until a query to Carat resolves it, at once if the reconciler runs.
    pub(in crate::recharge) async fn mark_in_doubt(
        &self,
        recharge: &Recharge,
        actor: &Actor,
        call: CallRecord,
        problem: CaratProblem,
    ) -> FlowError {
        let status = recharge.status;
        let step = Step {
            changes: Changes {
                outcome_unknown: true,
                error: Some(problem.as_last_error()),
                ..Changes::default()
            },
            next: store::NextAttempt::In(Duration::ZERO),
            call: Some(call),
            detail: serde_json::json!({"reason": problem.message}),
            ..self.step(recharge, status, Guard::Attempt(recharge.attempt), actor)
        };
        if let Err(e) = self.record(step).await {
            return e;
        }
        tracing::warn!(recharge_id = %recharge.id, %status, reason = %problem.message, "outcome unknown; will resolve by query");
        FlowError::Carat(problem.with_status(status))
    }

    /// Records a money-moving call that failed, sorted by [`sort_failure`]. `fallback` is where
    /// a call Carat did not act on leaves the recharge.
    pub(in crate::recharge) async fn call_failed(
        &self,
        recharge: &Recharge,
        actor: &Actor,
        before: &CaratStatus,
        fallback: RechargeStatus,
        call: CallRecord,
        error: CaratError,
    ) -> FlowError {
        let (next, ends) = match sort_failure(recharge.status, before, &error) {
            Failure::InDoubt => {
                let problem = CaratProblem::new(CaratFailure::OutcomeUnknown, &error);
                return self.mark_in_doubt(recharge, actor, call, problem).await;
            }
            Failure::NotApplied => (fallback, false),
            Failure::Ended(end) => (end, true),
        };
        let problem = CaratProblem::not_applied(&error);
        let step = Step {
            changes: Changes {
                carat_status: problem.carat_status.as_deref().map(CaratStatus::parse),
                error: Some(problem.as_last_error()),
                ..Changes::default()
            },
            call: Some(call),
            detail: serde_json::json!({"carat_status": problem.carat_status}),
            ..self.step(recharge, next, Guard::Attempt(recharge.attempt), actor)
        };
        let stored = match self.record(step).await {
            Ok(stored) => stored,
            Err(e) => return e,
        };
        // A refusal that ended the recharge answers as its repeats will.
        if ends {
            match self.failed_step_answer(&stored, recharge.status).await {
                Ok(Some(answer)) => return answer,
                Ok(None) => {}
                Err(e) => return e,
            }
        }
        FlowError::Carat(problem.with_status(stored.status))
    }

    /// The answer of `step` (the in-flight state of an effectuation, confirmation or undo) if
    /// that step ended `recharge` in failure: the same for the first request and its repeats,
    /// for it is read from what is stored.
    pub(in crate::recharge) async fn failed_step_answer(
        &self,
        recharge: &Recharge,
        step: RechargeStatus,
    ) -> Result<Option<FlowError>, FlowError> {
        // A step that succeeded (most of them) owes nothing: its history is not read.
        if !answer::ended_in_failure(recharge.status) {
            return Ok(None);
        }
        let events = store::recharges::events(&self.pool, recharge.id).await?;
        Ok(answer::of_failed_step(recharge, &events, step).map(FlowError::Carat))
    }

    /// What a step answers once its outcome is stored: the recharge, or, when the step ended
    /// it in failure, that failure as [`Self::failed_step_answer`] tells it.
    pub(in crate::recharge) async fn step_outcome(
        &self,
        stored: Recharge,
        step: RechargeStatus,
    ) -> Result<Recharge, FlowError> {
        match self.failed_step_answer(&stored, step).await? {
            Some(failure) => Err(failure),
            None => Ok(stored),
        }
    }

    /// Keeps a call whose outcome changes nothing else (a listing, a query, the create) in the
    /// recharge's history.
    pub(in crate::recharge) async fn note_call<T: carat_wire::Verdict>(
        &self,
        id: Uuid,
        actor: &Actor,
        exchange: &Exchange<T>,
    ) -> Result<(), FlowError> {
        store::recharges::record_call(&self.pool, id, actor, call_record(exchange)).await?;
        Ok(())
    }
}

/// The history entry for an outbound call: what was sent (redacted by the client) and what
/// came back, in Carat's words.
pub(in crate::recharge) fn call_record<T: carat_wire::Verdict>(
    exchange: &Exchange<T>,
) -> store::CallRecord {
    use crate::carat::CaratError;
    let mut detail = match &exchange.result {
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
        Err(e @ CaratError::NoAnswer { timeout_ms, .. }) => serde_json::json!({
            "outcome": "unknown",
            "error": e.to_string(),
            "timeout_ms": timeout_ms,
        }),
        Err(e @ CaratError::NotSent { .. }) => {
            serde_json::json!({"outcome": "not_sent", "error": e.to_string()})
        }
    };
    detail["request"] = exchange.request.clone();
    if let Some(elapsed) = exchange.elapsed {
        detail["elapsed_ms"] = serde_json::json!(elapsed.as_millis() as u64);
    }
    store::CallRecord {
        name: exchange.call.as_str().to_owned(),
        detail,
    }
}

/// Retries a record whose write failed until the database takes it. A write that fails for
/// another reason than an outage is logged and left to the reconciler, which resolves the
/// recharge by query once its call deadline passes.
pub(in crate::recharge) async fn record_when_the_database_returns(pool: sqlx::PgPool, step: Step) {
    let mut delay = Duration::from_millis(100);
    loop {
        tokio::time::sleep(delay).await;
        match store::recharges::apply(&pool, step.clone()).await {
            Ok(_) => {
                tracing::info!(recharge_id = %step.id, "recorded a call's outcome after the database returned");
                return;
            }
            Err(StoreError::Unavailable(_)) => delay = (delay * 2).min(Duration::from_secs(5)),
            Err(e) => {
                tracing::error!(recharge_id = %step.id, error = %e, "gave up recording a call's outcome; the reconciler will query Carat");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(status: Option<&str>) -> CaratError {
        CaratError::refused_for_tests(status)
    }

    #[test]
    fn a_refusal_means_nothing_happened_only_if_carat_still_says_so() {
        use RechargeStatus::*;
        let nov = CaratStatus::Nov;
        assert_eq!(
            sort_failure(Effectuating, &nov, &refused(None)),
            Failure::NotApplied
        );
        assert_eq!(
            sort_failure(Effectuating, &nov, &refused(Some("NOV"))),
            Failure::NotApplied
        );
        assert_eq!(
            sort_failure(Effectuating, &nov, &refused(Some("EXP"))),
            Failure::Ended(Expired)
        );
        assert_eq!(
            sort_failure(Effectuating, &nov, &refused(Some("PPC"))),
            Failure::InDoubt
        );
        assert_eq!(
            sort_failure(Effectuating, &nov, &refused(Some("CON"))),
            Failure::Ended(Confirmed)
        );
        assert_eq!(
            sort_failure(
                Effectuating,
                &nov,
                &CaratError::NoAnswer {
                    call: crate::carat::CaratCall::Query,
                    reason: "timeout".into(),
                    timeout_ms: None,
                }
            ),
            Failure::InDoubt
        );
        let ppc = CaratStatus::Ppc;
        assert_eq!(
            sort_failure(Confirming, &ppc, &refused(Some("PPC"))),
            Failure::NotApplied
        );
        assert_eq!(
            sort_failure(Confirming, &ppc, &refused(Some("ERR"))),
            Failure::InDoubt
        );
    }
}
