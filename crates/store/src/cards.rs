//! Stored cards (`cards`, migration 11): never the number nor the security code. What a report
//! does to a card is carat-core's to decide (`carat_core::cards::report`): here a card is
//! locked in the caller's transaction and written as told.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;
use super::callbacks::StoredCallback;
use super::codec::parse;
use carat_domain::card_status::{Applied, CardStatus};

#[derive(Clone, Debug)]
pub struct CardRow {
    pub id: Uuid,
    pub customer_id: String,
    pub authorizer_id: String,
    pub merchant_usn: i64,
    pub nita: Option<String>,
    pub nsua: Option<String>,
    pub status: CardStatus,
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

/// A `cards` row as PostgreSQL types, before [`CardRow`] parses its status.
struct CardRecord {
    id: Uuid,
    customer_id: String,
    authorizer_id: String,
    merchant_usn: i64,
    nita: Option<String>,
    nsua: Option<String>,
    status: String,
    token: Option<String>,
    bin: Option<String>,
    last4: Option<String>,
    expiry: Option<String>,
    last_error_code: Option<String>,
    last_error_message: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A status outside the column's CHECK is a decode error naming `status`, never a panic.
impl TryFrom<CardRecord> for CardRow {
    type Error = sqlx::Error;

    fn try_from(row: CardRecord) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.id,
            customer_id: row.customer_id,
            authorizer_id: row.authorizer_id,
            merchant_usn: row.merchant_usn,
            nita: row.nita,
            nsua: row.nsua,
            status: parse("status", row.status)?,
            token: row.token,
            bin: row.bin,
            last4: row.last4,
            expiry: row.expiry,
            last_error_code: row.last_error_code,
            last_error_message: row.last_error_message,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

fn read_one(row: Option<CardRecord>) -> Result<Option<CardRow>, StoreError> {
    Ok(row.map(CardRow::try_from).transpose()?)
}

/// A compile-checked statement answering whole [`CardRecord`]s: `$head`, the columns, `$tail`
/// (sqlx's macros take string literals only: the column list is spliced here, once).
macro_rules! card_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            CardRecord,
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
    let row = card_rows!(
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
    .await?;
    Ok(row.try_into()?)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Option<CardRow>, StoreError> {
    let row = card_rows!("SELECT", "FROM cards WHERE id = $1", id)
        .fetch_optional(pool)
        .await?;
    read_one(row)
}

/// A customer's cards, newest first.
pub async fn list(pool: &PgPool, customer_id: &str) -> Result<Vec<CardRow>, StoreError> {
    let rows = card_rows!(
        "SELECT",
        "FROM cards WHERE customer_id = $1 \
          ORDER BY created_at DESC, merchant_usn DESC LIMIT 1000",
        customer_id
    )
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(CardRow::try_from);
    Ok(rows.collect::<Result<_, sqlx::Error>>()?)
}

/// Sets `status` and the error of a card whose storage answer is still awaited (`pending`):
/// a HASH notification that came first keeps what it said. Answers the card as it is then.
pub async fn settle_pending(
    pool: &PgPool,
    id: Uuid,
    status: CardStatus,
    code: Option<&str>,
    message: &str,
) -> Result<Option<CardRow>, StoreError> {
    sqlx::query!(
        "UPDATE cards SET status = $2, last_error_code = $3, last_error_message = $4, \
                updated_at = now() WHERE id = $1 AND status = 'pending'",
        id,
        status.as_str(),
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

/// Which card to lock.
#[derive(Clone, Copy, Debug)]
pub enum By<'a> {
    Id(Uuid),
    Nita(&'a str),
    MerchantUsn(i64),
}

/// The card, locked (`FOR UPDATE`) until `conn`'s transaction ends: what is decided from it
/// holds when it is written.
pub async fn lock(conn: &mut PgConnection, by: By<'_>) -> Result<Option<CardRow>, StoreError> {
    let row = match by {
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
    read_one(row)
}

/// What to write to a card: each `None` leaves its column as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CardWrite<'a> {
    pub status: Option<CardStatus>,
    pub nita: Option<&'a str>,
    pub nsua: Option<&'a str>,
    pub token: Option<&'a str>,
    pub bin: Option<&'a str>,
    pub last4: Option<&'a str>,
    /// Empties `last_error_code` and `last_error_message`.
    pub clear_last_error: bool,
}

/// Writes `write` to card `id` (locked by the caller: see [`lock`]); answers it as written.
pub async fn write(
    conn: &mut PgConnection,
    id: Uuid,
    write: &CardWrite<'_>,
) -> Result<CardRow, StoreError> {
    let row = card_rows!(
        "UPDATE cards SET status = COALESCE($2, status), nita = COALESCE($3, nita), \
                nsua = COALESCE($4, nsua), token = COALESCE($5, token), \
                bin = COALESCE($6, bin), last4 = COALESCE($7, last4), \
                last_error_code = CASE WHEN $8 THEN NULL ELSE last_error_code END, \
                last_error_message = CASE WHEN $8 THEN NULL ELSE last_error_message END, \
                updated_at = now() \
          WHERE id = $1 RETURNING",
        "",
        id,
        write.status.map(CardStatus::as_str),
        write.nita,
        write.nsua,
        write.token,
        write.bin,
        write.last4,
        write.clear_last_error,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.try_into()?)
}

/// How a HASH notification was applied. carat-core finds it; it is named here, beside the
/// inbox row it can carry, because the HTTP door logs it by this path.
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

/// What a payment needs of a stored card: its status and what it pays with.
#[derive(Clone, Debug)]
pub struct PayingCard {
    pub status: CardStatus,
    pub token: Option<String>,
    pub bin: Option<String>,
    pub last4: Option<String>,
}

pub async fn paying_card(pool: &PgPool, id: Uuid) -> Result<Option<PayingCard>, StoreError> {
    let row = sqlx::query!(
        "SELECT status, token, bin, last4 FROM cards WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(PayingCard {
        status: parse("status", row.status)?,
        token: row.token,
        bin: row.bin,
        last4: row.last4,
    }))
}

/// Cards in any of `statuses` and unchanged since `unchanged_since` (the console's queue of
/// cards whose storage outcome is not known): newest first by `(created_at, id)`, after `after`.
pub async fn list_unchanged(
    pool: &PgPool,
    statuses: &[CardStatus],
    unchanged_since: DateTime<Utc>,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<CardRow>, StoreError> {
    let statuses: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
    let rows = card_rows!(
        "SELECT",
        "FROM cards WHERE status = ANY($1) AND updated_at <= $2 \
           AND (created_at, id) < (COALESCE($3::timestamptz, 'infinity'), \
                                   COALESCE($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
         ORDER BY created_at DESC, id DESC LIMIT $5",
        &statuses,
        unchanged_since,
        after.map(|(at, _)| at),
        after.map(|(_, id)| id),
        limit,
    )
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(CardRow::try_from);
    Ok(rows.collect::<Result<_, sqlx::Error>>()?)
}
