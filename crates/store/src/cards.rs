//! Stored cards (`cards`, migration 11): never the number nor the security code. Every status
//! change goes through [`carat_domain::card_status::judge`], in a transaction holding the card's row.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;
use super::callbacks::{self, Receipt, StoredCallback, Verdict};
use carat_domain::StorageStatus;
use carat_domain::card_status::{CardStatus, Move, judge};

#[derive(Clone, Debug)]
pub struct CardRow {
    pub id: Uuid,
    pub customer_id: String,
    pub authorizer_id: String,
    pub merchant_usn: i64,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    pub status: String,
    /// Only the service reads it; the API shows it only with `CARD_TOKEN_VISIBLE`.
    pub token: Option<String>,
    pub bin: Option<String>,
    pub last4: Option<String>,
    pub expiry: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A compile-checked statement answering whole [`CardRow`]s: `$head`, the columns, `$tail`
/// (sqlx's macros take string literals only: the column list is spliced here, once).
macro_rules! card_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            CardRow,
            $head
                + " id, customer_id, authorizer_id, merchant_usn, nita, nsua, status, token, bin, \
                   last4, expiry, last_error_code, last_error_message, created_at, updated_at "
                + $tail
            $(, $arg)*
        )
    };
}

/// A new card, `pending`, before Carat is called; its `merchant_usn` comes from the sequence.
pub struct NewCard<'a> {
    pub id: Uuid,
    pub customer_id: &'a str,
    pub authorizer_id: &'a str,
    pub bin: &'a str,
    pub last4: &'a str,
    pub expiry: &'a str,
}

pub async fn insert(pool: &PgPool, card: NewCard<'_>) -> Result<CardRow, StoreError> {
    Ok(card_rows!(
        "INSERT INTO cards (id, customer_id, authorizer_id, status, bin, last4, expiry) \
         VALUES ($1, $2, $3, 'pending', $4, $5, $6) RETURNING",
        "",
        card.id,
        card.customer_id,
        card.authorizer_id,
        card.bin,
        card.last4,
        card.expiry,
    )
    .fetch_one(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<CardRow>, StoreError> {
    Ok(card_rows!("SELECT", "FROM cards WHERE id = $1", id)
        .fetch_optional(pool)
        .await?)
}

/// A customer's cards, newest first.
pub async fn list(pool: &PgPool, customer_id: &str) -> Result<Vec<CardRow>, StoreError> {
    Ok(card_rows!(
        "SELECT",
        "FROM cards WHERE customer_id = $1 \
          ORDER BY created_at DESC, merchant_usn DESC LIMIT 1000",
        customer_id
    )
    .fetch_all(pool)
    .await?)
}

/// What Carat reported of a storage, by its answer or a HASH notification.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub status: Option<StorageStatus>,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    pub token: Option<String>,
    pub bin: Option<String>,
    pub last4: Option<String>,
}

/// What a report did to its card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Changed,
    Unchanged,
    /// An older status than the stored one: ignored.
    Stale,
    /// The report's NITA is another than the card's: at odds, nothing applied.
    Conflict,
}

/// Applies `report` to the card locked in `conn`'s transaction. Identifiers fill in when
/// missing; the status moves only forward ([`judge`]). A `CON` without a token (the constraint
/// `stored_means_token`) waits for the notification that carries it.
async fn apply(
    conn: &mut PgConnection,
    card: &CardRow,
    report: &Report,
) -> Result<Applied, StoreError> {
    if let (Some(ours), Some(theirs)) = (&card.nita, &report.nita)
        && ours != theirs
    {
        return Ok(Applied::Conflict);
    }
    let current = CardStatus::parse(&card.status).unwrap_or(CardStatus::Unknown);
    let mut status = None;
    let mut stale = false;
    if let Some(reported) = report.status {
        match judge(current, reported) {
            Move::Forward => {
                let has_token = report.token.is_some() || card.token.is_some();
                if reported != StorageStatus::Stored || has_token {
                    status = Some(reported.code());
                }
            }
            Move::Same => {}
            Move::Backward => stale = true,
        }
    }
    // Identifiers and card data fill in only while absent: once known they do not change.
    // A token is kept only on a card that is (or becomes) CON: a NEG or DUP pays with nothing.
    let stored = StorageStatus::Stored.code();
    let token = match (status, current) {
        (Some(s), _) if s == stored => report.token.as_deref(),
        (None, CardStatus::Carat(StorageStatus::Stored)) => report.token.as_deref(),
        _ => None,
    };
    let row = sqlx::query!(
        "UPDATE cards SET status = COALESCE($2, status), nita = COALESCE(nita, $3), \
                nsua = COALESCE(nsua, $4), token = COALESCE(token, $5), \
                bin = COALESCE($6, bin), last4 = COALESCE($7, last4), \
                last_error_code = CASE WHEN $2 IS NULL THEN last_error_code END, \
                last_error_message = CASE WHEN $2 IS NULL THEN last_error_message END, \
                updated_at = now() \
          WHERE id = $1 \
            AND ($2::text IS NOT NULL OR (nita IS NULL AND $3::text IS NOT NULL) \
                 OR (nsua IS NULL AND $4::text IS NOT NULL) \
                 OR (token IS NULL AND $5::text IS NOT NULL))",
        card.id,
        status,
        report.nita.as_deref(),
        report.nsua.as_deref(),
        token,
        report.bin.as_deref().filter(|_| status.is_some()),
        report.last4.as_deref().filter(|_| status.is_some()),
    )
    .execute(&mut *conn)
    .await?;
    Ok(match (row.rows_affected(), stale) {
        (_, true) => Applied::Stale,
        (0, false) => Applied::Unchanged,
        _ => Applied::Changed,
    })
}

/// The storage call's answer, applied to the card it was for.
pub async fn record_answer(
    pool: &PgPool,
    id: Uuid,
    report: &Report,
) -> Result<(Applied, CardRow), StoreError> {
    let mut tx = pool.begin().await?;
    let card = lock(&mut tx, By::Id(id)).await?;
    let card = card.ok_or_else(|| StoreError::Other(sqlx::Error::RowNotFound))?;
    let applied = apply(&mut tx, &card, report).await?;
    let card = reread(&mut tx, id).await?;
    tx.commit().await?;
    Ok((applied, card))
}

/// The storage call's outcome is not known: `unknown`, unless a notification already said.
pub async fn mark_unknown(
    pool: &PgPool,
    id: Uuid,
    code: Option<&str>,
    message: &str,
) -> Result<Option<CardRow>, StoreError> {
    set_error(pool, id, "unknown", code, message).await
}

/// Carat refused the storage for sure: `INV` (the §5.2 "invalid request"), with its words.
pub async fn mark_refused(
    pool: &PgPool,
    id: Uuid,
    code: Option<&str>,
    message: &str,
) -> Result<Option<CardRow>, StoreError> {
    set_error(pool, id, "INV", code, message).await
}

async fn set_error(
    pool: &PgPool,
    id: Uuid,
    status: &str,
    code: Option<&str>,
    message: &str,
) -> Result<Option<CardRow>, StoreError> {
    sqlx::query!(
        "UPDATE cards SET status = $2, last_error_code = $3, last_error_message = $4, \
                updated_at = now() WHERE id = $1 AND status = 'pending'",
        id,
        status,
        code,
        message,
    )
    .execute(pool)
    .await?;
    get(pool, id).await
}

/// The storage never left (the connection failed): nothing to keep.
pub async fn forget_unsent(pool: &PgPool, id: Uuid) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM cards WHERE id = $1 AND status = 'pending'", id)
        .execute(pool)
        .await?;
    Ok(())
}

/// How a HASH notification was applied.
#[derive(Clone, Debug)]
pub enum HashFinding {
    Applied {
        card: Uuid,
        applied: Applied,
    },
    /// No card has its NITA nor its `nsu`.
    NoCard,
    /// The same POST was kept before: answered as then, nothing applied.
    Replay(StoredCallback),
}

/// One transaction: finds the card by NITA, else by `nsu` (= its merchant_usn: the storage's
/// answer, which brings the NITA, may have been lost), applies the notification, keeps the
/// POST in the inbox with `stored_body` (the raw body with the token blanked; the dedupe key
/// is still over the real bytes) and the verdict `verdict` gives, then commits.
pub async fn apply_notification(
    pool: &PgPool,
    receipt: &Receipt,
    stored_body: &[u8],
    merchant_usn: i64,
    report: &Report,
    verdict: impl Fn(&HashFinding) -> Verdict,
) -> Result<HashFinding, StoreError> {
    let mut tx = pool.begin().await?;
    let mut card = None;
    if let Some(nita) = &report.nita {
        card = lock(&mut tx, By::Nita(nita)).await?;
    }
    if card.is_none() {
        card = lock(&mut tx, By::MerchantUsn(merchant_usn)).await?;
    }
    let Some(card) = card else {
        let finding = HashFinding::NoCard;
        let kept =
            callbacks::keep_as(&mut tx, receipt, &verdict(&finding), None, stored_body).await?;
        tx.commit().await?;
        return Ok(if kept.first_receipt {
            finding
        } else {
            HashFinding::Replay(kept)
        });
    };
    // Judged before it is kept, so the inbox row says what it did; applied only if new.
    sqlx::query!("SAVEPOINT hash_apply")
        .execute(&mut *tx)
        .await?;
    let applied = apply(&mut tx, &card, report).await?;
    let finding = HashFinding::Applied {
        card: card.id,
        applied,
    };
    let kept = callbacks::keep_as(&mut tx, receipt, &verdict(&finding), None, stored_body).await?;
    if kept.first_receipt {
        tx.commit().await?;
        Ok(finding)
    } else {
        // A replay: undo the application, keep only the receipt count.
        sqlx::query!("ROLLBACK TO SAVEPOINT hash_apply")
            .execute(&mut *tx)
            .await?;
        let kept =
            callbacks::keep_as(&mut tx, receipt, &verdict(&finding), None, stored_body).await?;
        tx.commit().await?;
        Ok(HashFinding::Replay(kept))
    }
}

/// Which card to lock.
enum By<'a> {
    Id(Uuid),
    Nita(&'a str),
    MerchantUsn(i64),
}

async fn lock(conn: &mut PgConnection, by: By<'_>) -> Result<Option<CardRow>, StoreError> {
    let card = match by {
        By::Id(id) => {
            card_rows!("SELECT", "FROM cards WHERE id = $1 FOR UPDATE", id)
                .fetch_optional(conn)
                .await?
        }
        By::Nita(nita) => {
            card_rows!("SELECT", "FROM cards WHERE nita = $1 FOR UPDATE", nita)
                .fetch_optional(conn)
                .await?
        }
        By::MerchantUsn(usn) => {
            card_rows!(
                "SELECT",
                "FROM cards WHERE merchant_usn = $1 FOR UPDATE",
                usn
            )
            .fetch_optional(conn)
            .await?
        }
    };
    Ok(card)
}

async fn reread(conn: &mut PgConnection, id: Uuid) -> Result<CardRow, StoreError> {
    Ok(card_rows!("SELECT", "FROM cards WHERE id = $1", id)
        .fetch_one(conn)
        .await?)
}

/// What a payment needs of a stored card: its status and what it pays with.
#[derive(Clone, Debug)]
pub struct PayingCard {
    pub status: String,
    pub token: Option<String>,
    pub bin: Option<String>,
    pub last4: Option<String>,
}

pub async fn paying_card(pool: &PgPool, id: Uuid) -> Result<Option<PayingCard>, StoreError> {
    Ok(sqlx::query_as!(
        PayingCard,
        "SELECT status, token, bin, last4 FROM cards WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?)
}
