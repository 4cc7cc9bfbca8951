//! A report applied to its card in one transaction holding the card's row (`FOR UPDATE`):
//! locked, decided ([`decide`]), written as decided, and, for a HASH notification, kept in
//! the callback inbox, then committed. No other report can slip between the decision and the
//! write, and Carat's POST is answered only after the commit.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::report::{Decision, Report, decide};
use carat_store::StoreError;
use carat_store::callbacks::{self, Receipt, Verdict};
use carat_store::cards::{self as rows, By, CardRow, HashFinding};

/// The storage call's answer, applied to the card it was for; the card as it is then.
pub(crate) async fn answer(
    pool: &PgPool,
    id: Uuid,
    report: &Report,
) -> Result<CardRow, StoreError> {
    let mut tx = pool.begin().await?;
    let card = rows::lock(&mut tx, By::Id(id)).await?;
    let card = card.ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
    let card = match decide(&card, report).write {
        Some(write) => rows::write(&mut tx, id, &write).await?,
        None => card,
    };
    tx.commit().await?;
    Ok(card)
}

/// A HASH notification: finds the card by NITA, else by `nsu` (= its merchant_usn: the
/// storage's answer, which brings the NITA, may have been lost), keeps the POST in the inbox
/// with `stored_body` (the raw body with the token blanked; the dedupe key is still over the
/// real bytes) and the verdict `verdict` gives, applies it unless it is a replay, and commits.
pub(crate) async fn notification(
    pool: &PgPool,
    receipt: &Receipt,
    stored_body: &[u8],
    merchant_usn: i64,
    report: &Report,
    verdict: impl Fn(&HashFinding) -> Verdict,
) -> Result<HashFinding, StoreError> {
    let mut tx = pool.begin().await?;
    let card = find(&mut tx, report, merchant_usn).await?;
    let decided = card.map(|card| (card.id, decide(&card, report)));
    let finding = match &decided {
        Some((card, decision)) => HashFinding::Applied {
            card: *card,
            applied: decision.applied,
        },
        None => HashFinding::NoCard,
    };
    // Decided before it is kept, so the inbox row says what it did; written only if new.
    let kept = callbacks::keep_as(&mut tx, receipt, &verdict(&finding), None, stored_body).await?;
    if !kept.first_receipt {
        // A replay: only the inbox's receipt count changes.
        tx.commit().await?;
        return Ok(HashFinding::Replay(kept));
    }
    if let Some((
        id,
        Decision {
            write: Some(write), ..
        },
    )) = &decided
    {
        rows::write(&mut tx, *id, write).await?;
    }
    tx.commit().await?;
    Ok(finding)
}

/// The notification's card, locked: by its NITA, else by its `nsu`.
async fn find(
    conn: &mut PgConnection,
    report: &Report,
    merchant_usn: i64,
) -> Result<Option<CardRow>, StoreError> {
    if let Some(nita) = &report.nita
        && let Some(card) = rows::lock(conn, By::Nita(nita)).await?
    {
        return Ok(Some(card));
    }
    rows::lock(conn, By::MerchantUsn(merchant_usn)).await
}
