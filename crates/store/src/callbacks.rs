//! The callback inbox: every POST Carat sends, kept with what it was answered, in the same
//! transaction as its effect. A replay (the same bytes again) only counts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;
use carat_domain::payment_status::FollowUp;

/// How a callback ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Applied (or found already applied).
    Accepted,
    /// Forged, malformed, or at odds with what is stored.
    Refused,
    /// Names nothing this store knows.
    Unmatched,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Unmatched => "unmatched",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Accepted, Self::Refused, Self::Unmatched]
            .into_iter()
            .find(|o| o.as_str() == value)
    }
}

/// The POST as it arrived.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub kind: &'static str,
    pub raw_body: Vec<u8>,
    pub content_type: Option<String>,
    pub source_addr: Option<String>,
    pub forwarded_for: Option<String>,
}

/// What a callback is answered, and why.
#[derive(Clone, Debug)]
pub struct Verdict {
    pub outcome: Outcome,
    pub http_status: u16,
    pub reason: Option<String>,
}

/// The inbox row a POST landed in.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredCallback {
    pub id: i64,
    /// False when the same POST was already there: this one is a replay.
    pub first_receipt: bool,
    pub http_status: i16,
    pub reason: Option<String>,
}

/// Keeps `receipt` with its verdict, or counts it if the same POST was kept before.
pub async fn keep(
    conn: &mut PgConnection,
    receipt: &Receipt,
    verdict: &Verdict,
    recharge_id: Option<Uuid>,
) -> Result<StoredCallback, StoreError> {
    keep_as(conn, receipt, verdict, recharge_id, &receipt.raw_body).await
}

/// As [`keep`], but the inbox keeps `stored_body` in place of the raw body (a POST carrying a
/// secret, such as the HASH notification's token, is kept with it blanked). The dedupe key
/// is still the digest of the real bytes, so a replay is still recognised.
pub async fn keep_as(
    conn: &mut PgConnection,
    receipt: &Receipt,
    verdict: &Verdict,
    recharge_id: Option<Uuid>,
    stored_body: &[u8],
) -> Result<StoredCallback, StoreError> {
    Ok(sqlx::query_as(
        "INSERT INTO callbacks (kind, dedupe_key, outcome, reason, http_status, recharge_id, \
                                raw_body, content_type, source_addr, forwarded_for) \
         VALUES ($1, encode(sha256($2), 'hex'), $3, $4, $5, $6, $10, $7, $8, $9) \
         ON CONFLICT (kind, dedupe_key) DO UPDATE SET \
             receipt_count = callbacks.receipt_count + 1, last_received_at = now() \
         RETURNING id, (xmax = 0) AS first_receipt, http_status, reason",
    )
    .bind(receipt.kind)
    .bind(&receipt.raw_body)
    .bind(verdict.outcome.as_str())
    .bind(verdict.reason.as_deref())
    .bind(verdict.http_status as i16)
    .bind(recharge_id)
    .bind(receipt.content_type.as_deref())
    .bind(receipt.source_addr.as_deref())
    .bind(receipt.forwarded_for.as_deref())
    .bind(stored_body)
    .fetch_one(conn)
    .await?)
}

/// Keeps a callback that is refused before it touches anything (malformed, forged).
pub async fn keep_refused(
    pool: &PgPool,
    receipt: &Receipt,
    verdict: &Verdict,
) -> Result<StoredCallback, StoreError> {
    keep_refused_as(pool, receipt, verdict, &receipt.raw_body).await
}

/// As [`keep_refused`], keeping `stored_body` (see [`keep_as`]).
pub async fn keep_refused_as(
    pool: &PgPool,
    receipt: &Receipt,
    verdict: &Verdict,
    stored_body: &[u8],
) -> Result<StoredCallback, StoreError> {
    let mut conn = pool.acquire().await?;
    keep_as(&mut conn, receipt, verdict, None, stored_body).await
}

/// One inbox row, for operators.
#[derive(Clone, Debug, sqlx::FromRow, Serialize)]
pub struct CallbackRow {
    pub id: i64,
    pub kind: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub http_status: i16,
    pub recharge_id: Option<Uuid>,
    #[serde(skip)]
    pub raw_body: Vec<u8>,
    pub content_type: Option<String>,
    pub source_addr: Option<String>,
    pub forwarded_for: Option<String>,
    pub received_at: DateTime<Utc>,
    pub last_received_at: DateTime<Utc>,
    pub receipt_count: i32,
}

/// Which callbacks a listing shows; `None` means any.
#[derive(Clone, Copy, Debug, Default)]
pub struct Filter<'a> {
    pub outcome: Option<Outcome>,
    pub kind: Option<&'a str>,
    /// Status notifications whose follow-up this is (`payment_notifications`).
    pub follow_up: Option<FollowUp>,
}

/// The newest callbacks first, filtered, below `before` (an id) for paging.
pub async fn list(
    pool: &PgPool,
    filter: Filter<'_>,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CallbackRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, kind, outcome, reason, http_status, recharge_id, raw_body, content_type, \
                source_addr, forwarded_for, received_at, last_received_at, receipt_count \
           FROM callbacks \
          WHERE ($1::text IS NULL OR outcome = $1) AND ($2::bigint IS NULL OR id < $2) \
            AND ($4::text IS NULL OR kind = $4) \
            AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM payment_notifications p \
                                              WHERE p.callback_id = callbacks.id \
                                                AND p.follow_up = $5)) \
          ORDER BY id DESC LIMIT $3",
    )
    .bind(filter.outcome.map(Outcome::as_str))
    .bind(before)
    .bind(limit)
    .bind(filter.kind)
    .bind(filter.follow_up.map(FollowUp::as_str))
    .fetch_all(pool)
    .await?)
}
