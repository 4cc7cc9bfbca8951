//! After each case, pass or fail: every sale it made is ended, and read back for the report.
//! A sale left pending confirmation is undone at once (the runner is its storefront); one in
//! doubt is resolved by the reconciler's query, then undone if Carat holds it PPC. What still
//! cannot end now (Carat unreachable) stays with the background reconciler, which ends it,
//! and the report says so.

use uuid::Uuid;

use super::cases::Ctx;
use super::ending::ended_text;
use super::evidence::{CaratAnswer, CardRecord, HistoryEntry, SaleRecord};
use carat_domain::RechargeStatus;
use carat_store::{Event, Recharge};

/// Ends what the case left open, then reads every sale back.
pub async fn sales(ctx: &mut Ctx<'_>) -> Vec<SaleRecord> {
    let mut records = Vec::new();
    for id in ctx.sales.clone() {
        end_if_open(ctx, id).await;
        if let Ok((recharge, events)) = ctx.doors.recharges.get(id).await {
            records.push(record(ctx, recharge, events));
        }
    }
    records
}

async fn end_if_open(ctx: &mut Ctx<'_>, id: Uuid) {
    let Ok(mut recharge) = ctx.load(id).await else {
        return;
    };
    let in_doubt = matches!(
        recharge.status,
        RechargeStatus::Effectuating | RechargeStatus::Confirming | RechargeStatus::Undoing
    );
    if in_doubt {
        let _ = ctx.doors.reconciler.run_pass().await;
        let Ok(now) = ctx.load(id).await else {
            return;
        };
        recharge = now;
    }
    if recharge.status == RechargeStatus::PendingConfirmation {
        let undone = ctx.decide(id, false, None).await;
        let detail = match &undone {
            Ok(r) => format!("left pending by the case: {}", r.status.as_str()),
            Err(e) => {
                format!("left pending by the case; the undo failed ({e}): the reconciler ends it")
            }
        };
        ctx.note("end the sale (undo)", undone.is_ok(), detail);
    }
}

fn record(ctx: &Ctx<'_>, recharge: Recharge, events: Vec<Event>) -> SaleRecord {
    let pin = (recharge.recharge_type == carat_domain::RechargeType::Others)
        .then(|| {
            let (receipts, _) = ctx.doors.recharges.receipts(&recharge);
            receipts.map(|r| super::cases::masked_pin(r.customer))
        })
        .flatten();
    let esitef_usn = recharge
        .carat_answer
        .as_ref()
        .and_then(|a| a.0.esitef_usn.clone());
    let last_error = (recharge.last_error_code.is_some() || recharge.last_error_message.is_some())
        .then(|| CaratAnswer {
            code: recharge.last_error_code.clone(),
            message: recharge.last_error_message.clone(),
        });
    SaleRecord {
        recharge_id: recharge.id.to_string(),
        recharge_type: recharge.recharge_type.as_str().to_owned(),
        order_id: recharge.order_id.as_str().to_owned(),
        nit: recharge.nit.as_ref().map(|n| n.as_str().to_owned()),
        merchant_usn: recharge.merchant_usn.get().to_string(),
        esitef_usn,
        status: recharge.status.as_str().to_owned(),
        carat_status: recharge
            .carat_status
            .as_ref()
            .map(|s| s.as_str().to_owned()),
        auth_mode: recharge.auth_mode.as_str().to_owned(),
        ended: ended_text(&recharge, &events),
        last_error,
        pin,
        history: events.into_iter().map(entry).collect(),
    }
}

fn entry(event: Event) -> HistoryEntry {
    HistoryEntry {
        at: event.at,
        kind: event.kind.as_str().to_owned(),
        name: event.name,
        actor: event.actor.map(|a| a.to_string()),
        detail: event.detail,
    }
}

/// Every card the case stored, as kept (its BIN and last four at most, never its token).
pub async fn cards(ctx: &Ctx<'_>) -> Vec<CardRecord> {
    let mut records = Vec::new();
    for id in &ctx.cards {
        if let Ok(row) = ctx.doors.cards.get(*id).await {
            let hash_notified = super::cases::hash_notified(ctx, &row).await;
            records.push(CardRecord {
                card_id: row.id.to_string(),
                nita: row.nita,
                nsua: row.nsua,
                status: row.status.as_str().to_owned(),
                last4: row.last4,
                hash_notified,
            });
        }
    }
    records
}
