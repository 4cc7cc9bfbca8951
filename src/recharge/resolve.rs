//! Settling a call's outcome, and resolving one that is unknown by asking Carat.

use uuid::Uuid;

use super::{CaratFailure, CaratProblem, FlowError, RechargeService, call_event, why_not};
use crate::carat::CaratError;
use crate::domain::{CaratStatus, RechargeStatus};
use crate::store::{self, Changes, EventKind, Recharge};

impl RechargeService {
    /// Records a call's known outcome: `from` -> `to`, the call over.
    pub(super) async fn settle(
        &self,
        id: Uuid,
        from: RechargeStatus,
        to: RechargeStatus,
        changes: Changes,
    ) -> Result<Recharge, FlowError> {
        let changes = Changes {
            outcome_unknown: false,
            call_deadline: None,
            ..changes
        };
        let detail = serde_json::json!({"carat_status": changes.carat_status});
        match store::recharges::transition(&self.pool, id, from, to, false, changes, detail).await?
        {
            Some(recharge) => Ok(recharge),
            // Another instance resolved it (its deadline had passed): what it stored stands.
            None => self.load(id).await,
        }
    }

    /// Records that a money-moving call's outcome is unknown. The recharge stays in `status`
    /// until a query to Carat resolves it.
    pub(super) async fn mark_in_doubt(
        &self,
        id: Uuid,
        status: RechargeStatus,
        problem: CaratProblem,
    ) -> Result<FlowError, FlowError> {
        let changes = Changes {
            outcome_unknown: true,
            call_deadline: None,
            error: Some(problem.as_last_error()),
            ..Changes::default()
        };
        let detail = serde_json::json!({"reason": problem.message});
        store::recharges::transition(&self.pool, id, status, status, false, changes, detail)
            .await?;
        tracing::warn!(recharge_id = %id, %status, reason = %problem.message, "outcome unknown; will resolve by query");
        Ok(FlowError::Carat(problem.with_status(status)))
    }

    /// Records a money-moving call that failed. Outcome unknown: the recharge stays in doubt.
    /// Certainly not applied: the recharge takes the final status Carat reported, if any, or
    /// goes back to `fallback`, from where the step may be tried again.
    pub(super) async fn call_failed(
        &self,
        id: Uuid,
        in_flight: RechargeStatus,
        fallback: RechargeStatus,
        error: CaratError,
    ) -> Result<FlowError, FlowError> {
        if !error.certainly_not_applied() {
            let problem = CaratProblem::new(CaratFailure::OutcomeUnknown, &error);
            return self.mark_in_doubt(id, in_flight, problem).await;
        }
        let problem = CaratProblem::not_applied(&error);
        let next = problem.ends(in_flight).unwrap_or(fallback);
        let changes = Changes {
            carat_status: problem.carat_status.clone(),
            error: Some(problem.as_last_error()),
            ..Changes::default()
        };
        let stored = self.settle(id, in_flight, next, changes).await?;
        Ok(FlowError::Carat(problem.with_status(stored.status)))
    }

    /// Asks Carat what became of the call a recharge in doubt is waiting on, and moves the
    /// recharge accordingly. Refuses while that call may still be out.
    pub(super) async fn resolve_in_doubt(&self, recharge: Recharge) -> Result<Recharge, FlowError> {
        let status = recharge.status;
        if !recharge.call_is_over(chrono::Utc::now()) {
            return Err(FlowError::out_of_order(
                status,
                why_not(status, "start another call"),
            ));
        }
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                status,
                why_not(RechargeStatus::Created, "query"),
            ));
        };
        let result = self.carat.query(&nit).await;
        store::recharges::record_event(
            &self.pool,
            recharge.id,
            EventKind::OutboundCall,
            "query",
            call_event(&result),
        )
        .await?;
        let answer = result.map_err(|e| {
            let mut problem =
                CaratProblem::new(CaratFailure::OutcomeUnknown, &e).with_status(status);
            problem.message = format!(
                "the previous call's outcome is still unknown: {}",
                problem.message
            );
            FlowError::Carat(problem)
        })?;
        let carat = CaratStatus::parse(answer.status.as_deref().unwrap_or_default());
        let Some(next) = status.after_carat_reports(&carat) else {
            let esitef = answer.esitef.unwrap_or_default();
            let problem = CaratProblem::from_answer(
                CaratFailure::OutcomeUnknown,
                format!(
                    "Carat Portal reports status {:?}: the previous call's outcome is still unknown",
                    carat.as_str()
                ),
                Some(esitef.code),
                esitef.message,
                carat.as_str(),
            );
            return Err(FlowError::Carat(problem.with_status(status)));
        };
        let keeps_receipts = matches!(
            next,
            RechargeStatus::PendingConfirmation | RechargeStatus::Confirmed
        );
        let changes = Changes {
            carat_status: Some(carat.to_string()),
            esitef_usn: answer.esitef.as_ref().and_then(|e| e.usn.clone()),
            authorization: answer
                .authorization
                .as_ref()
                .filter(|_| keeps_receipts)
                .map(|a| serde_json::json!(a)),
            customer_receipt: answer
                .customer
                .and_then(|r| r.receipt)
                .filter(|_| keeps_receipts),
            merchant_receipt: answer
                .merchant
                .and_then(|r| r.receipt)
                .filter(|_| keeps_receipts),
            ..Changes::default()
        };
        let detail = serde_json::json!({"resolved_by": "query", "carat_status": carat.to_string()});
        match store::recharges::transition(
            &self.pool,
            recharge.id,
            status,
            next,
            true,
            changes,
            detail,
        )
        .await?
        {
            Some(resolved) => Ok(resolved),
            None => self.load(recharge.id).await,
        }
    }
}
