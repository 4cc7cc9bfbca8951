//! Recording a call's outcome (durably: a database that fails after the call does not lose
//! it), and resolving an outcome that is unknown by asking Carat.

use std::time::Duration;

use super::{CaratFailure, CaratProblem, FlowError, RechargeService, carat_answer, why_not};
use crate::carat::CaratError;
use carat_domain::{Actor, CaratStatus, RechargeStatus, RechargeType};
use carat_store::{self as store, Changes, Guard, Recharge, Step};
use carat_wire::GetStatusRechargeResponse;

impl RechargeService {
    /// Asks Carat for its record of the recharge, keeping the call in the history.
    pub(super) async fn query_carat(
        &self,
        recharge: &Recharge,
        actor: &Actor,
    ) -> Result<(GetStatusRechargeResponse, CaratStatus), FlowError> {
        let status = recharge.status;
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                status,
                why_not(RechargeStatus::Created, "query"),
            ));
        };
        let exchange = self.carat_for(recharge).query(&nit).await;
        self.note_call(recharge.id, actor, &exchange).await?;
        let answer = match exchange.result {
            Ok(answer) => answer,
            Err(e) => match record_in_refusal(&e) {
                Some(answer) => answer,
                None => {
                    let mut problem =
                        CaratProblem::new(CaratFailure::OutcomeUnknown, &e).with_status(status);
                    problem.message = format!(
                        "the previous call's outcome is still unknown: {}",
                        problem.message
                    );
                    return Err(FlowError::Carat(problem));
                }
            },
        };
        let carat = CaratStatus::parse(answer.status.as_deref().unwrap_or_default());
        Ok((answer, carat))
    }

    /// Moves a recharge in doubt to `next`, as Carat's record (`answer`) says, if it still
    /// waits on the same call and that call is over.
    pub(super) async fn settle_by_query(
        &self,
        recharge: &Recharge,
        actor: &Actor,
        answer: GetStatusRechargeResponse,
        carat: &CaratStatus,
        next: RechargeStatus,
    ) -> Result<Recharge, FlowError> {
        let keeps_receipts = matches!(
            next,
            RechargeStatus::PendingConfirmation | RechargeStatus::Confirmed
        );
        // A PIN sale keeps its PIN only from the effectuation's own answer (`pin_receipts`):
        // a query's receipts are not written, not even in the clear columns.
        let pin_sale = recharge.recharge_type == RechargeType::Others;
        let keeps_receipts = keeps_receipts && !pin_sale;
        let step = Step {
            changes: Changes {
                carat_status: Some(carat.clone()),
                carat_answer: Some(carat_answer(
                    answer.esitef.as_ref(),
                    answer.authorization.as_ref().filter(|_| keeps_receipts),
                )),
                customer_receipt: answer
                    .customer
                    .and_then(|r| r.receipt)
                    .filter(|_| keeps_receipts),
                merchant_receipt: answer
                    .merchant
                    .and_then(|r| r.receipt)
                    .filter(|_| keeps_receipts),
                payment: super::payment::answered("query", answer.payment.as_ref(), pin_sale),
                ..Changes::default()
            },
            detail: serde_json::json!({"resolved_by": "query", "carat_status": carat.to_string()}),
            ..self.step(recharge, next, guard_for(recharge), actor)
        };
        let mut step = step;
        if pin_sale && next == RechargeStatus::PendingConfirmation && !recharge.may_be_confirmed() {
            // Effectuated, and its answer (the PIN) lost: nobody can deliver it, so the
            // reconciler undoes it at once.
            step.detail["pin_receipt_kept"] = false.into();
            step.next = store::NextAttempt::In(Duration::ZERO);
        }
        match store::recharges::apply(&self.pool, step).await? {
            Some(resolved) => Ok(resolved),
            None => self.load(recharge.id).await,
        }
    }

    /// For a storefront request: asks Carat what became of the call a recharge in doubt waits
    /// on, and moves the recharge accordingly. Refuses while that call may still be out.
    pub(super) async fn resolve_in_doubt(
        &self,
        recharge: Recharge,
        actor: &Actor,
    ) -> Result<Recharge, FlowError> {
        let status = recharge.status;
        if !recharge.call_is_over(chrono::Utc::now()) {
            return Err(FlowError::out_of_order(
                status,
                why_not(status, "start another call"),
            ));
        }
        let (answer, carat) = self.query_carat(&recharge, actor).await?;
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
        self.settle_by_query(&recharge, actor, answer, &carat, next)
            .await
    }
}

/// A query Carat refused while stating the transaction's status (an expired NIT is refused
/// with EXP) still tells Carat's record: that status is the answer. Any other failure tells
/// nothing.
fn record_in_refusal(error: &CaratError) -> Option<GetStatusRechargeResponse> {
    let refusal = error.refusal().filter(|r| r.is_definite())?;
    let status = refusal.carat_status.clone()?;
    Some(GetStatusRechargeResponse {
        status: Some(status),
        esitef: Some(carat_wire::Esitef {
            code: refusal.code.clone().unwrap_or_default(),
            message: refusal.message.clone(),
            usn: None,
        }),
        ..GetStatusRechargeResponse::default()
    })
}

/// A query settles a recharge in doubt only if it still waits on the call that was asked
/// about, and that call is over; any other state moves under its status alone.
fn guard_for(recharge: &Recharge) -> Guard {
    if recharge.status.is_in_doubt() {
        Guard::CallOver(recharge.attempt)
    } else {
        Guard::Attempt(recharge.attempt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carat::Refusal;

    fn refused(status: Option<&str>) -> CaratError {
        CaratError::refused_for_tests(status)
    }

    #[test]
    fn a_refused_query_that_states_the_status_is_carats_record() {
        let answer = record_in_refusal(&refused(Some("EXP"))).unwrap();
        assert_eq!(answer.status.as_deref(), Some("EXP"));
        assert!(record_in_refusal(&refused(None)).is_none());
        let http_500 = CaratError::Answered(Refusal {
            http_status: 500,
            code: Some("99".into()),
            message: None,
            carat_status: Some("PPC".into()),
            unreadable: false,
        });
        assert!(record_in_refusal(&http_500).is_none());
        assert!(
            record_in_refusal(&CaratError::NoAnswer {
                call: crate::carat::CaratCall::Query,
                reason: "timeout".into(),
                timeout_ms: None,
            })
            .is_none()
        );
    }
}
