//! The card cases: a top-up paid by card confirmed and undone, a card denied, and a card
//! stored (NITA, HASH notification) then paying by itself.

use std::time::Duration;

use serde_json::json;

use super::context::{CaseEnd, Ctx, Step};
use super::sell::{self, Paying};
use carat_core::cards::{StoreCardRequest, Stored};
use carat_domain::StorageStatus;
use carat_domain::card_status::CardStatus;
use carat_store::callbacks::{CallbackKind, Filter, Outcome};
use carat_store::cards::CardRow;

pub async fn payment_confirmed(ctx: &mut Ctx<'_>) -> Step<()> {
    let card = sell::approved_card(ctx)?;
    let sold = sell::top_up(ctx, Paying::Card(card), "pending_confirmation").await?;
    sell::end(ctx, sold.id, true).await.map(drop)
}

pub async fn payment_undone(ctx: &mut Ctx<'_>) -> Step<()> {
    let card = sell::approved_card(ctx)?;
    let sold = sell::top_up(ctx, Paying::Card(card), "pending_confirmation").await?;
    sell::end(ctx, sold.id, false).await.map(drop)
}

/// The authorizer denies the card: the recharge fails and nothing is charged.
pub async fn denied(ctx: &mut Ctx<'_>) -> Step<()> {
    let card = ctx
        .inputs
        .denied_card
        .as_ref()
        .map_err(|missing| CaseEnd::Skip(missing.reason()))?;
    sell::top_up(ctx, Paying::Card(card.body()), "failed")
        .await
        .map(drop)
}

/// Stores the approved card, waits for its HASH notification, and pays a top-up with it.
pub async fn stored(ctx: &mut Ctx<'_>) -> Step<()> {
    let card = ctx
        .inputs
        .approved_card
        .clone()
        .map_err(|missing| CaseEnd::Skip(missing.reason()))?;
    let request: Result<StoreCardRequest, _> = serde_json::from_value(json!({
        "customer_id": format!("HML{}{:02}", ctx.run_id, ctx.case_no),
        "authorizer_id": ctx.inputs.authorizer_id,
        "card": {"number": card.number, "expiry_date": card.expiry},
    }));
    let request = request.map_err(|e| CaseEnd::Fail(format!("the storage body: {e}")))?;
    let stored = match ctx.doors.cards.store(request).await {
        Ok(Stored::Answered(row) | Stored::OutcomeUnknown(row)) => Ok(row),
        Err(e) => Err(e.to_string()),
    };
    let row = ctx.check("store the card", stored, seen_card)?;
    ctx.cards.push(row.id);
    let notified = wait_for_hash(ctx, &row).await;
    let row = ctx.check("HASH notification", notified, seen_card)?;
    let active = match row.status {
        CardStatus::Carat(StorageStatus::Stored) => Ok(()),
        _ => Err(format!("the card is {}, not stored (CON)", seen_card(&row))),
    };
    ctx.check("card stored", active, |()| {
        "CON: stored, its token kept".into()
    })?;
    let paying = json!({"stored_card_id": row.id, "security_code": card.security_code});
    let sold = sell::top_up(ctx, Paying::Card(paying), "pending_confirmation").await?;
    sell::end(ctx, sold.id, true).await.map(drop)
}

fn seen_card(row: &CardRow) -> String {
    let nita = row.nita.as_deref().unwrap_or("-");
    format!(
        "status {}, NITA {nita}, card ending {}",
        row.status.as_str(),
        row.last4.as_deref().unwrap_or("-")
    )
}

/// The card once a HASH notification naming its NITA was accepted.
async fn wait_for_hash(ctx: &Ctx<'_>, card: &CardRow) -> Result<CardRow, String> {
    let deadline = tokio::time::Instant::now() + ctx.doors.callback_wait;
    loop {
        let row = ctx
            .doors
            .cards
            .get(card.id)
            .await
            .map_err(|e| e.to_string())?;
        if hash_notified(ctx, &row).await? {
            return Ok(row);
        }
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "no HASH notification for NITA {} within {:?}: is the hash URL registered?",
                row.nita.as_deref().unwrap_or("-"),
                ctx.doors.callback_wait
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether the inbox holds an accepted HASH notification for the card's NITA.
pub async fn hash_notified(ctx: &Ctx<'_>, card: &CardRow) -> Result<bool, String> {
    let Some(nita) = card.nita.as_deref() else {
        return Ok(false);
    };
    let filter = Filter {
        outcome: Some(Outcome::Accepted),
        kind: Some(CallbackKind::Hash),
        follow_up: None,
    };
    let rows = ctx.doors.callbacks.inbox(filter, None, 200).await;
    let rows = rows.map_err(|e| e.to_string())?;
    Ok(rows.iter().any(|row| names_nita(&row.raw_body, nita)))
}

fn names_nita(body: &[u8], nita: &str) -> bool {
    url::form_urlencoded::parse(body).any(|(k, v)| k.eq_ignore_ascii_case("nita") && v == nita)
}
