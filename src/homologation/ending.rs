//! How a sale ended, in the report's words: who confirmed or undid it, or why nothing was
//! charged, or who will end it.

use carat_domain::RechargeStatus;
use carat_store::{Event, EventKind, Recharge};

/// The ending of `recharge`, by its status and the actor of the state change that put it
/// there.
pub fn ended_text(recharge: &Recharge, events: &[Event]) -> String {
    let status = recharge.status;
    let by = events
        .iter()
        .rev()
        .find(|e| {
            e.kind == EventKind::StateChange
                && e.detail.get("to").and_then(|to| to.as_str()) == Some(status.as_str())
        })
        .and_then(|e| e.actor.as_ref())
        .map_or_else(|| "?".to_owned(), ToString::to_string);
    match status {
        RechargeStatus::Confirmed => format!("confirmada / confirmed, by {by}"),
        RechargeStatus::Undone => format!("desfeita / undone, by {by}"),
        RechargeStatus::Failed => {
            "falhou: nada cobrado / failed: nothing charged (Carat did not apply it)".into()
        }
        RechargeStatus::Expired => "expirada: nada cobrado / expired: nothing charged".into(),
        RechargeStatus::Created | RechargeStatus::Started | RechargeStatus::AwaitingChoice => {
            "nada cobrado / nothing charged: no effectuation was applied; Carat lets the NIT \
             expire"
                .into()
        }
        RechargeStatus::PendingConfirmation => {
            "PENDENTE / pending: the background reconciler undoes or confirms it by \
             PENDING_CONFIRMATION_POLICY"
                .into()
        }
        RechargeStatus::Effectuating | RechargeStatus::Confirming | RechargeStatus::Undoing => {
            "EM DÚVIDA / in doubt: the background reconciler queries Carat and ends it".into()
        }
    }
}
