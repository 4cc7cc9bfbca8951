//! Confirmation or undo: every effectuated recharge must end one way or the other.
//!
//! Resending a confirmation after a query showed the recharge still PPC is assumed safe: it
//! settles the same transaction and cannot charge twice (Carat's documentation does not say
//! so explicitly; verify in homologation).

use super::payment_methods;
use super::steps::{Race, call_record};
use super::{CaratFailure, CaratProblem, FlowError, Opened, RechargeService, why_not};
use carat_domain::payment_methods::to_wire_list;
use carat_domain::{Actor, CaratStatus, RechargeStatus, UsedPaymentMethod};
use carat_store::{self as store, CallRecord, Changes, Guard, Recharge, Step};
use carat_wire::ConfirmRechargeResponse;

/// The two decisions, and the states they pass through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Decision {
    pub confirm: bool,
}

impl Decision {
    pub fn in_flight(self) -> RechargeStatus {
        if self.confirm {
            RechargeStatus::Confirming
        } else {
            RechargeStatus::Undoing
        }
    }

    pub fn done(self) -> RechargeStatus {
        if self.confirm {
            RechargeStatus::Confirmed
        } else {
            RechargeStatus::Undone
        }
    }

    pub fn action(self) -> &'static str {
        if self.confirm { "confirm" } else { "undo" }
    }
}

/// The end a confirmation or undo answered with HTTP 200 reached. Only a status that ends the
/// recharge settles it; a 200 with ERR, PEN, NOV, PPC or no status at all tells nothing sure,
/// so a query decides.
fn settled_by(in_flight: RechargeStatus, carat: Option<&CaratStatus>) -> Option<RechargeStatus> {
    carat
        .and_then(|c| in_flight.after_carat_reports(c))
        .filter(|s| s.is_final())
}

impl RechargeService {
    pub(super) async fn decide(
        &self,
        opened: Opened,
        decision: Decision,
        methods: Option<&[UsedPaymentMethod]>,
        actor: &Actor,
    ) -> Result<Recharge, FlowError> {
        let action = decision.action();
        // A request that loses the race to send waits for the winner.
        self.at_most_twice(opened, action, |opened| {
            Box::pin(async move {
                let mut recharge = opened.into_recharge();
                // The same decision already out: answer as it will.
                if recharge.status == decision.in_flight() {
                    recharge = self.wait_for_call(recharge).await?;
                }
                if recharge.status.is_in_doubt() {
                    recharge = self.resolve_in_doubt(recharge, actor).await?;
                }
                match recharge.status {
                    // A PIN nobody kept is a PIN nobody can deliver: never confirmed (the
                    // reconciler undoes it).
                    RechargeStatus::PendingConfirmation
                        if decision.confirm && !recharge.may_be_confirmed() =>
                    {
                        return Err(FlowError::out_of_order(
                            recharge.status,
                            "cannot confirm: this PIN sale's receipt was not kept (the \
                             effectuation's answer was lost), so its PIN cannot be delivered; \
                             it is being undone",
                        ));
                    }
                    RechargeStatus::PendingConfirmation => {
                        if let Some(methods) = methods {
                            payment_methods::check_confirmation(&recharge, methods)
                                .map_err(FlowError::Invalid)?;
                        }
                    }
                    // The same decision again answers as the first time.
                    s if s == decision.done() => return Ok(Race::Won(recharge)),
                    s => {
                        // A decision that ended the recharge in failure answers as it did.
                        let answer = self
                            .failed_step_answer(&recharge, decision.in_flight())
                            .await?;
                        return Err(answer
                            .unwrap_or_else(|| FlowError::out_of_order(s, why_not(s, action))));
                    }
                }
                let wire = methods.map(to_wire_list);
                match self
                    .send_decision(&recharge, decision, wire, Guard::Status, actor)
                    .await?
                {
                    Some(settled) => settled.map(Race::Won),
                    None => Ok(Race::Lost),
                }
            })
        })
        .await
    }

    /// Sends `decision` for a recharge pending confirmation, or again for one whose same
    /// decision Carat still holds pending (`recharge` in the decision's in-flight state, the
    /// earlier call over). `None`: the recharge moved before the call could go out, and
    /// nothing was sent. `used_payment_methods` (wire strings) go with a new decision and are
    /// kept with it; the same decision sent again carries the kept ones.
    pub(super) async fn send_decision(
        &self,
        recharge: &Recharge,
        decision: Decision,
        used_payment_methods: Option<Vec<String>>,
        guard: Guard,
        actor: &Actor,
    ) -> Result<Option<Result<Recharge, FlowError>>, FlowError> {
        let Some(nit) = recharge.nit.clone() else {
            return Err(FlowError::out_of_order(
                recharge.status,
                why_not(RechargeStatus::Created, decision.action()),
            ));
        };
        let Some((sent, used_payment_methods)) = self
            .start_decision(recharge, decision, used_payment_methods, guard, actor)
            .await?
        else {
            return Ok(None);
        };
        let exchange = self
            .carat_for(recharge)
            .confirm(&nit, decision.confirm, used_payment_methods)
            .await;
        let call = call_record(&exchange);
        Ok(Some(match exchange.result {
            Ok(answer) => {
                self.decision_answered(recharge, &sent, decision, actor, call, answer)
                    .await
            }
            Err(error) => Err(self
                .call_failed(
                    &sent,
                    actor,
                    &CaratStatus::Ppc,
                    RechargeStatus::PendingConfirmation,
                    call,
                    error,
                )
                .await),
        }))
    }

    /// Moves the recharge to the decision's in-flight state before the call goes out, with
    /// the payment methods the call will carry. `None`: it moved first; nothing is to be sent.
    async fn start_decision(
        &self,
        recharge: &Recharge,
        decision: Decision,
        used_payment_methods: Option<Vec<String>>,
        guard: Guard,
        actor: &Actor,
    ) -> Result<Option<(Recharge, Option<Vec<String>>)>, FlowError> {
        let in_flight = decision.in_flight();
        // The same decision sent again carries the methods kept with the first.
        let used_payment_methods = if recharge.status == in_flight {
            recharge.decision_payment_methods.clone().map(|m| m.0)
        } else {
            used_payment_methods
        };
        let step = Step {
            changes: Changes {
                decision_payment_methods: used_payment_methods.clone(),
                ..Changes::default()
            },
            detail: serde_json::json!({"confirm": decision.confirm}),
            ..self.call_step(recharge, in_flight, guard, actor)
        };
        let sent = store::recharges::apply(&self.pool, step).await?;
        Ok(sent.map(|sent| (sent, used_payment_methods)))
    }

    /// Carat answered the decision: the recharge ends as its status says, or, when that
    /// status ends nothing, is in doubt until a query settles it.
    async fn decision_answered(
        &self,
        recharge: &Recharge,
        sent: &Recharge,
        decision: Decision,
        actor: &Actor,
        call: CallRecord,
        answer: ConfirmRechargeResponse,
    ) -> Result<Recharge, FlowError> {
        let in_flight = decision.in_flight();
        let carat = answer.status.as_deref().map(CaratStatus::parse);
        let Some(end) = settled_by(in_flight, carat.as_ref()) else {
            let problem = unsettling_answer(decision, carat.as_ref(), answer);
            return Err(self.mark_in_doubt(sent, actor, call, problem).await);
        };
        let step = Step {
            changes: Changes {
                carat_status: carat,
                // Seed 003: the decision acts on the linked payment too; its status is kept.
                payment: super::payment::answered(
                    "confirmation",
                    answer.payment.as_ref(),
                    recharge.recharge_type == carat_domain::RechargeType::Others,
                ),
                ..Changes::default()
            },
            call: Some(call),
            detail: serde_json::json!({"confirm": decision.confirm}),
            ..self.step(sent, end, Guard::Attempt(sent.attempt), actor)
        };
        let stored = self.record(step).await?;
        self.step_outcome(stored, in_flight).await
    }
}

/// An answer to a decision whose status does not end the recharge: its outcome is unknown.
fn unsettling_answer(
    decision: Decision,
    carat: Option<&CaratStatus>,
    answer: ConfirmRechargeResponse,
) -> CaratProblem {
    let esitef = answer.esitef.unwrap_or_default();
    let shown = carat.map_or("none", |c| c.as_str()).to_owned();
    CaratProblem::from_answer(
        CaratFailure::OutcomeUnknown,
        format!(
            "Carat Portal answered the {} with status {shown:?}, which does not end the \
             recharge; its outcome is unknown until a query settles it",
            decision.action()
        ),
        Some(esitef.code),
        esitef.message,
        &shown,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use RechargeStatus::*;

    #[test]
    fn only_a_status_that_ends_the_recharge_settles_a_decision() {
        let settled = |s, c: Option<&str>| settled_by(s, c.map(CaratStatus::parse).as_ref());
        assert_eq!(settled(Confirming, Some("CON")), Some(Confirmed));
        assert_eq!(settled(Undoing, Some("PPN")), Some(Undone));
        assert_eq!(settled(Confirming, Some("EXP")), Some(Expired));
        for unsure in [
            None,
            Some("PPC"),
            Some("ERR"),
            Some("PEN"),
            Some("NOV"),
            Some("XYZ"),
        ] {
            assert_eq!(settled(Confirming, unsure), None, "{unsure:?}");
        }
    }
}
