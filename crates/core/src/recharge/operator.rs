//! An operator's actions from the console. Each is kept in the history with the operator's
//! reason before it does anything, then goes through the same guarded steps as the storefront
//! and the reconciler, under the actor `operator:<token id>`.
//!
//! An action that may call Carat first takes the recharge's lease (the reconciler's), waiting
//! while a reconciler holds it: a click and a reconciler pass then never both query or call.
//! Against the storefront and other instances the conditional steps decide, as always. An
//! action that finds the recharge moved while it waited answers with what happened instead of
//! asking Carat again.

use std::time::Instant;

use uuid::Uuid;

use super::confirm::Decision;
use super::{FlowError, Receipts, RechargeService};
use carat_domain::reconcile::{AfterQuery, after_query};
use carat_domain::{Actor, FieldError, OperatorReason, RechargeStatus, RechargeType};
use carat_store::{self as store, EventKind, Guard, Recharge};

/// What an operator did, as the history names it (`operator_action` entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatorAction {
    /// Query Carat and settle the recharge by its answer.
    AskCaratNow,
    UndoNow,
    ConfirmNow,
    /// Open a PIN sale's receipts.
    RevealPin,
}

impl OperatorAction {
    pub const ALL: [Self; 4] = [
        Self::AskCaratNow,
        Self::UndoNow,
        Self::ConfirmNow,
        Self::RevealPin,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AskCaratNow => "ask_carat_now",
            Self::UndoNow => "undo_now",
            Self::ConfirmNow => "confirm_now",
            Self::RevealPin => "reveal_pin",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

/// Whether an operator's latest action took effect itself: the history holds, after that
/// action's entry, a call or a state change by the same operator. When it did not, someone
/// else (the reconciler, another instance, the storefront) had taken the step first, and the
/// console says so instead of claiming the operator's click did it.
pub fn took_effect(events: &[store::Event], operator: &Actor) -> bool {
    let mine = |e: &&store::Event| e.actor.as_ref() == Some(operator);
    let Some(asked) = events
        .iter()
        .rposition(|e| e.kind == EventKind::OperatorAction && mine(&e))
    else {
        return false;
    };
    events[asked + 1..]
        .iter()
        .filter(mine)
        .any(|e| matches!(e.kind, EventKind::OutboundCall | EventKind::StateChange))
}

/// Who acts and why, checked before anything is read or written: only an operator acts, and
/// always with a reason. The error becomes a `FlowError::Invalid`.
pub(super) fn operator_reason(actor: &Actor, reason: &str) -> Result<OperatorReason, FieldError> {
    if !matches!(actor, Actor::Operator(_)) {
        return Err(FieldError::new(
            "actor",
            format!("must be an operator, not {actor}"),
        ));
    }
    OperatorReason::parse(reason)
}

/// A lease owner's name for one action: two clicks exclude each other as two reconcilers do.
fn lease_owner(actor: &Actor) -> String {
    format!("{actor}/{}", Uuid::new_v4().simple())
}

/// The part of a recharge that says whether someone moved it: its state and its attempt.
fn position(recharge: &Recharge) -> (RechargeStatus, i64) {
    (recharge.status, recharge.attempt)
}

impl RechargeService {
    /// Keeps the action and its reason in the history, before what it does.
    async fn note_operator_action(
        &self,
        id: Uuid,
        actor: &Actor,
        action: OperatorAction,
        reason: &OperatorReason,
    ) -> Result<(), FlowError> {
        let detail = serde_json::json!({"action": action, "reason": reason});
        let name = action.as_str();
        let kind = EventKind::OperatorAction;
        store::recharges::record_event(&self.pool, id, kind, name, actor, detail).await?;
        Ok(())
    }

    /// Lets go of a lease [`Self::take_lease`] took, whatever the action answered.
    async fn let_go(&self, id: Uuid, owner: &str) {
        if let Err(e) = store::recharges::release_lease(&self.pool, id, owner).await {
            tracing::warn!(recharge_id = %id, error = %e, "could not let go of an operator's lease; it expires");
        }
    }

    /// Takes the recharge's lease and reads it afresh, waiting while someone else (a
    /// reconciler) holds it; long enough for a wait on a call out, a query and a resend. A
    /// reconciler holds one for a step or two: past three call windows it is given up as a 409.
    async fn take_lease(&self, id: Uuid, owner: &str) -> Result<Recharge, FlowError> {
        let window = self.timing.call_window();
        let give_up = Instant::now() + window * 3;
        loop {
            let taken = store::recharges::take_lease(&self.pool, id, owner, window * 4).await?;
            if let Some(held) = taken {
                return Ok(held);
            }
            if Instant::now() >= give_up {
                let now = self.load(id).await?;
                return Err(FlowError::out_of_order(
                    now.status,
                    "cannot act now: the reconciler is working on this recharge; try again in a \
                     moment",
                ));
            }
            tokio::time::sleep(self.timing.poll).await;
        }
    }

    /// `ask_carat_now`: queries Carat and settles the recharge by its answer.
    pub(super) async fn ask_as_operator(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &OperatorReason,
    ) -> Result<Recharge, FlowError> {
        let seen = self.load(id).await?;
        self.note_operator_action(id, actor, OperatorAction::AskCaratNow, reason)
            .await?;
        let owner = lease_owner(actor);
        let held = self.take_lease(id, &owner).await?;
        let outcome = if position(&held) != position(&seen) {
            // Moved while this waited (the reconciler settled it): that is the answer.
            Ok(held)
        } else {
            self.ask_now(held, actor).await
        };
        self.let_go(id, &owner).await;
        outcome
    }

    /// Asks Carat about a recharge this action holds, and moves it as the reconciler would:
    /// settled by Carat's record, a decision Carat never received sent again, or left as it
    /// is when Carat's answer moves nothing (the query stays in the history).
    async fn ask_now(&self, held: Recharge, actor: &Actor) -> Result<Recharge, FlowError> {
        let mut recharge = held;
        if recharge.status.is_in_doubt() && !recharge.call_is_over(chrono::Utc::now()) {
            // A call is out: its own answer comes first.
            let before = position(&recharge);
            recharge = self.wait_for_call(recharge).await?;
            if position(&recharge) != before {
                return Ok(recharge);
            }
        }
        let (answer, carat) = self.query_carat(&recharge, actor).await?;
        let id = recharge.id;
        let outcome = match after_query(recharge.status, &carat) {
            AfterQuery::Move(next) => {
                self.settle_by_query(&recharge, actor, answer, &carat, next)
                    .await
            }
            AfterQuery::Resend => {
                let decision = Decision {
                    confirm: recharge.status == RechargeStatus::Confirming,
                };
                let guard = Guard::CallOver(recharge.attempt);
                match self
                    .send_decision(&recharge, decision, None, guard, actor)
                    .await?
                {
                    Some(sent) => sent,
                    None => self.load(id).await,
                }
            }
            AfterQuery::AskLater => self.load(id).await,
        };
        // The query a status notification asked for is answered too.
        if recharge.status == RechargeStatus::PendingConfirmation
            && recharge.query_requested_at.is_some()
        {
            let timeout = self.timing.pending_timeout.as_millis();
            let timeout_ms = i64::try_from(timeout).unwrap_or(i64::MAX);
            let attempt = recharge.attempt;
            store::notifications::query_request_answered(&self.pool, id, attempt, timeout_ms)
                .await?;
        }
        outcome
    }

    /// `undo_now` and `confirm_now`: the storefront's decision, under the operator's name and
    /// refused where the storefront's is.
    pub(super) async fn decide_as_operator(
        &self,
        id: Uuid,
        decision: Decision,
        actor: &Actor,
        reason: &OperatorReason,
    ) -> Result<Recharge, FlowError> {
        self.load(id).await?;
        let action = if decision.confirm {
            OperatorAction::ConfirmNow
        } else {
            OperatorAction::UndoNow
        };
        self.note_operator_action(id, actor, action, reason).await?;
        let owner = lease_owner(actor);
        self.take_lease(id, &owner).await?;
        // Read once the lease is held: what the decision starts from.
        let outcome = match self.open(id).await {
            Ok(opened) => self.decide(opened, decision, None, actor).await,
            Err(e) => Err(e),
        };
        self.let_go(id, &owner).await;
        outcome
    }

    /// `reveal_pin`: a PIN sale's receipts, opened; the reveal is kept in the history first.
    pub(super) async fn reveal_as_operator(
        &self,
        id: Uuid,
        actor: &Actor,
        reason: &OperatorReason,
    ) -> Result<Receipts, FlowError> {
        let recharge = self.load(id).await?;
        let status = recharge.status;
        if recharge.recharge_type != RechargeType::Others {
            return Err(FlowError::out_of_order(
                status,
                "cannot reveal a PIN: only a PIN sale (`others`) has one",
            ));
        }
        if recharge.sealed_receipts().is_none() {
            return Err(FlowError::out_of_order(
                status,
                "cannot reveal a PIN: this sale's receipt was not kept",
            ));
        }
        self.note_operator_action(id, actor, OperatorAction::RevealPin, reason)
            .await?;
        match self.opened_receipts(&recharge) {
            (Some(receipts), _) => Ok(receipts),
            _ => Err(FlowError::out_of_order(
                status,
                "cannot reveal a PIN: its receipt is kept but no configured key opens it",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, actor: &Actor) -> store::Event {
        store::Event {
            id: 0,
            at: chrono::Utc::now(),
            kind,
            name: String::new(),
            actor: Some(actor.clone()),
            detail: serde_json::json!({}),
        }
    }

    #[test]
    fn a_click_took_effect_only_if_its_operator_called_or_moved_after_it() {
        let me = Actor::Operator("0123456789abcdef".to_owned());
        let reconciler = Actor::Reconciler("host-1".to_owned());
        let asked = event(EventKind::OperatorAction, &me);
        let mine = event(EventKind::StateChange, &me);
        let theirs = event(EventKind::StateChange, &reconciler);
        assert!(took_effect(&[asked.clone(), mine.clone()], &me));
        assert!(!took_effect(&[theirs.clone(), asked.clone()], &me));
        assert!(!took_effect(&[asked.clone(), theirs], &me));
        // An earlier click's effect is not this one's.
        assert!(!took_effect(&[asked.clone(), mine, asked], &me));
        assert!(!took_effect(&[], &me));
    }

    #[test]
    fn actions_round_trip_and_serialize_as_named() {
        for action in OperatorAction::ALL {
            assert_eq!(OperatorAction::parse(action.as_str()), Some(action));
            assert_eq!(serde_json::to_value(action).unwrap(), action.as_str());
        }
        assert_eq!(OperatorAction::parse("undo"), None);
    }

    #[test]
    fn only_an_operator_acts_and_always_with_a_reason() {
        let operator = Actor::Operator("0123456789abcdef".to_owned());
        assert_eq!(
            operator_reason(&operator, " called the customer ")
                .unwrap()
                .as_str(),
            "called the customer"
        );
        for (actor, reason, field) in [
            (&operator, "  ", "reason"),
            (&operator, &"x".repeat(501) as &str, "reason"),
            (&Actor::Storefront, "why", "actor"),
            (&Actor::Reconciler("a".into()), "why", "actor"),
        ] {
            let error = operator_reason(actor, reason).unwrap_err();
            assert_eq!(error.field, field, "{actor} {reason:?}");
        }
    }
}
