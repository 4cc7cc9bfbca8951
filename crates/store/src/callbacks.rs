//! The callback inbox: every POST Carat sends, kept with what it was answered, in the same
//! transaction as its effect. A replay (the same bytes again) only counts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;
use super::codec::parse;
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

impl TryFrom<String> for Outcome {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown callback outcome {text:?}"))
    }
}

/// Which of Carat's callbacks a POST is: the inbox's `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    Authenticity,
    /// A status notification.
    Status,
    /// A HASH notification (card storage).
    Hash,
}

impl CallbackKind {
    pub const ALL: [Self; 3] = [Self::Authenticity, Self::Status, Self::Hash];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Authenticity => "authenticity",
            Self::Status => "status",
            Self::Hash => "hash",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

impl TryFrom<String> for CallbackKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text).ok_or_else(|| format!("unknown callback kind {text:?}"))
    }
}

/// The POST as it arrived.
#[derive(Clone, Debug)]
pub struct Receipt {
    pub kind: CallbackKind,
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
#[derive(Clone, Debug)]
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
    Ok(sqlx::query_as!(
        StoredCallback,
        r#"INSERT INTO callbacks (kind, dedupe_key, outcome, reason, http_status, recharge_id,
                                 raw_body, content_type, source_addr, forwarded_for)
           VALUES ($1, encode(sha256($2), 'hex'), $3, $4, $5, $6, $10, $7, $8, $9)
           ON CONFLICT (kind, dedupe_key) DO UPDATE SET
               receipt_count = callbacks.receipt_count + 1, last_received_at = now()
           RETURNING id, (xmax = 0) AS "first_receipt!", http_status, reason"#,
        receipt.kind.as_str(),
        &receipt.raw_body,
        verdict.outcome.as_str(),
        verdict.reason.as_deref(),
        verdict.http_status as i16,
        recharge_id,
        receipt.content_type.as_deref(),
        receipt.source_addr.as_deref(),
        receipt.forwarded_for.as_deref(),
        stored_body,
    )
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
#[derive(Clone, Debug, Serialize)]
pub struct CallbackRow {
    pub id: i64,
    pub kind: CallbackKind,
    pub outcome: Outcome,
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
pub struct Filter {
    pub outcome: Option<Outcome>,
    pub kind: Option<CallbackKind>,
    /// Status notifications whose follow-up this is (`payment_notifications`).
    pub follow_up: Option<FollowUp>,
}

/// An inbox row as PostgreSQL's types: [`read`] parses its closed sets.
struct RawCallbackRow {
    id: i64,
    kind: String,
    outcome: String,
    reason: Option<String>,
    http_status: i16,
    recharge_id: Option<Uuid>,
    raw_body: Vec<u8>,
    content_type: Option<String>,
    source_addr: Option<String>,
    forwarded_for: Option<String>,
    received_at: DateTime<Utc>,
    last_received_at: DateTime<Utc>,
    receipt_count: i32,
}

/// Inbox rows with their kind and outcome parsed: a stored value outside the set is a decode
/// error naming its column.
fn read(rows: Vec<RawCallbackRow>) -> Result<Vec<CallbackRow>, StoreError> {
    let rows = rows.into_iter().map(|row| {
        Ok(CallbackRow {
            id: row.id,
            kind: parse("kind", row.kind)?,
            outcome: parse("outcome", row.outcome)?,
            reason: row.reason,
            http_status: row.http_status,
            recharge_id: row.recharge_id,
            raw_body: row.raw_body,
            content_type: row.content_type,
            source_addr: row.source_addr,
            forwarded_for: row.forwarded_for,
            received_at: row.received_at,
            last_received_at: row.last_received_at,
            receipt_count: row.receipt_count,
        })
    });
    Ok(rows.collect::<Result<_, sqlx::Error>>()?)
}

/// The newest callbacks first, filtered, below `before` (an id) for paging. One static
/// statement: every filter is a parameter, NULL when unused.
pub async fn list(
    pool: &PgPool,
    filter: Filter,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CallbackRow>, StoreError> {
    let rows = sqlx::query_as!(
        RawCallbackRow,
        "SELECT id, kind, outcome, reason, http_status, recharge_id, raw_body, content_type, \
                source_addr, forwarded_for, received_at, last_received_at, receipt_count \
           FROM callbacks \
          WHERE ($1::text IS NULL OR outcome = $1) AND ($2::bigint IS NULL OR id < $2) \
            AND ($4::text IS NULL OR kind = $4) \
            AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM payment_notifications p \
                                              WHERE p.callback_id = callbacks.id \
                                                AND p.follow_up = $5)) \
          ORDER BY id DESC LIMIT $3",
        filter.outcome.map(Outcome::as_str),
        before,
        limit,
        filter.kind.map(CallbackKind::as_str),
        filter.follow_up.map(FollowUp::as_str),
    )
    .fetch_all(pool)
    .await?;
    read(rows)
}

/// The newest inbox rows that ended with any of `outcomes`, below `before` (an id) for paging;
/// bodies as kept (a secret in one is blanked before it is kept).
pub async fn list_outcomes(
    pool: &PgPool,
    outcomes: &[Outcome],
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<CallbackRow>, StoreError> {
    let outcomes: Vec<String> = outcomes.iter().map(|o| o.as_str().to_owned()).collect();
    let rows = sqlx::query_as!(
        RawCallbackRow,
        "SELECT id, kind, outcome, reason, http_status, recharge_id, raw_body, content_type, \
                source_addr, forwarded_for, received_at, last_received_at, receipt_count \
           FROM callbacks \
          WHERE outcome = ANY($1) AND ($2::bigint IS NULL OR id < $2) \
          ORDER BY id DESC LIMIT $3",
        &outcomes,
        before,
        limit,
    )
    .fetch_all(pool)
    .await?;
    read(rows)
}
