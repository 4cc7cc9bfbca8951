//! Every SQL statement about recharges and their history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;
use super::callbacks::{self, Receipt, StoredCallback, Verdict};
use super::codec::{self, parse, parse_opt};
use super::error::UniqueConstraint;
use super::lane::Lane;
use carat_domain::receipt_cipher::{KeyId, SealedReceipt};
use carat_domain::{
    Actor, AuthMode, CaratAnswer, CaratStatus, Effectuation, GeneralHash, MerchantUsn, Nit,
    OrderId, RechargeStatus, RechargeType,
};

/// One recharge as stored.
#[derive(Clone, Debug)]
pub struct Recharge {
    pub id: Uuid,
    pub recharge_type: RechargeType,
    pub order_id: OrderId,
    pub merchant_usn: MerchantUsn,
    pub nit: Option<Nit>,
    pub general_hash: Option<GeneralHash>,
    pub status: RechargeStatus,
    /// Carat's last 3-letter status, as Carat said it.
    pub carat_status: Option<CaratStatus>,
    pub outcome_unknown: bool,
    pub call_deadline: Option<DateTime<Utc>>,
    /// What was effectuated, tagged by kind (the row's `recharge_type`).
    pub effectuation: Option<Json<Effectuation>>,
    /// What Carat answered the effectuation, receipts aside.
    pub carat_answer: Option<Json<CaratAnswer>>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
    /// An `others` sale's receipts, encrypted (they carry its PIN); never in the clear columns.
    pub receipt_ciphertext: Option<Vec<u8>>,
    pub receipt_key_id: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempt: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub effectuated_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub reconcile_attempts: i32,
    pub reconcile_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    /// A status notification contradicted it while pending confirmation: the reconciler
    /// queries Carat before it applies the policy.
    pub query_requested_at: Option<DateTime<Utc>>,
    /// The `used_payment_methods` wire strings the confirmation sent (migration 14).
    pub decision_payment_methods: Option<Json<Vec<String>>>,
    /// How it authenticates to Carat, fixed at creation (signature mode signs every call).
    pub auth_mode: AuthMode,
}

/// A `recharges` row as PostgreSQL types, as [`recharge_rows!`] reads it.
pub(crate) struct RechargeRow {
    pub id: Uuid,
    pub recharge_type: String,
    pub order_id: String,
    pub merchant_usn: i64,
    pub nit: Option<String>,
    pub general_hash: Option<String>,
    pub status: String,
    pub carat_status: Option<String>,
    pub outcome_unknown: bool,
    pub call_deadline: Option<DateTime<Utc>>,
    pub effectuation: Option<Json<Effectuation>>,
    pub carat_answer: Option<Json<CaratAnswer>>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
    pub receipt_ciphertext: Option<Vec<u8>>,
    pub receipt_key_id: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub attempt: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub effectuated_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub reconcile_attempts: i32,
    pub reconcile_error: Option<String>,
    pub lease_owner: Option<String>,
    pub lease_until: Option<DateTime<Utc>>,
    pub query_requested_at: Option<DateTime<Utc>>,
    pub decision_payment_methods: Option<Json<Vec<String>>>,
    pub auth_mode: String,
    /// Due on the database's clock. Read with every row (one expression) so that
    /// [`renew_lease`], the only one that keeps it, needs no second row type.
    pub due: bool,
    /// What a statement reads with the row in the same round trip (its kept listings, its
    /// history), as one JSON value; NULL for the others. One row type serves them all.
    pub extra: Option<Value>,
}

/// A compile-checked statement answering whole recharges as [`RechargeRow`]s: `$head`, the
/// columns, then `$tail`. sqlx's macros take string literals only, so the column list is
/// spliced here, once, instead of being written out in every statement. `extra:` names an
/// expression read with the row as its `extra` (see [`RechargeRow::extra`]).
macro_rules! recharge_rows {
    ($head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        $crate::recharges::recharge_rows!(extra: "NULL::jsonb", $head, $tail $(, $arg)*)
    };
    (extra: $extra:literal, $head:literal, $tail:literal $(, $arg:expr)* $(,)?) => {
        sqlx::query_as!(
            $crate::recharges::RechargeRow,
            $head
                + r#" id, recharge_type, order_id, merchant_usn, nit, general_hash, status,
                     carat_status, outcome_unknown, call_deadline,
                     effectuation AS "effectuation: sqlx::types::Json<carat_domain::Effectuation>",
                     carat_answer AS "carat_answer: sqlx::types::Json<carat_domain::CaratAnswer>",
                     customer_receipt, merchant_receipt, receipt_ciphertext, receipt_key_id,
                     last_error_code, last_error_message, created_at, updated_at, attempt,
                     started_at, effectuated_at, next_attempt_at, reconcile_attempts,
                     reconcile_error, lease_owner, lease_until, query_requested_at,
                     decision_payment_methods AS "decision_payment_methods: sqlx::types::Json<Vec<String>>",
                     auth_mode, COALESCE(next_attempt_at <= now(), false) AS "due!", "#
                + $extra
                + r#" AS "extra?" "#
                + $tail
            $(, $arg)*
        )
    };
}
pub(crate) use recharge_rows;

impl TryFrom<RechargeRow> for Recharge {
    type Error = sqlx::Error;

    fn try_from(row: RechargeRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.id,
            recharge_type: parse("recharge_type", row.recharge_type)?,
            order_id: parse("order_id", row.order_id)?,
            merchant_usn: codec::merchant_usn("merchant_usn", row.merchant_usn)?,
            nit: parse_opt("nit", row.nit)?,
            general_hash: parse_opt("general_hash", row.general_hash)?,
            status: parse("status", row.status)?,
            carat_status: row.carat_status.as_deref().map(CaratStatus::parse),
            outcome_unknown: row.outcome_unknown,
            call_deadline: row.call_deadline,
            effectuation: row.effectuation,
            carat_answer: row.carat_answer,
            customer_receipt: row.customer_receipt,
            merchant_receipt: row.merchant_receipt,
            receipt_ciphertext: row.receipt_ciphertext,
            receipt_key_id: row.receipt_key_id,
            last_error_code: row.last_error_code,
            last_error_message: row.last_error_message,
            created_at: row.created_at,
            updated_at: row.updated_at,
            attempt: row.attempt,
            started_at: row.started_at,
            effectuated_at: row.effectuated_at,
            next_attempt_at: row.next_attempt_at,
            reconcile_attempts: row.reconcile_attempts,
            reconcile_error: row.reconcile_error,
            lease_owner: row.lease_owner,
            lease_until: row.lease_until,
            query_requested_at: row.query_requested_at,
            decision_payment_methods: row.decision_payment_methods,
            auth_mode: parse("auth_mode", row.auth_mode)?,
        })
    }
}

/// Rows read into recharges; the first that fails its format fails them all.
pub(crate) fn read_all(rows: Vec<RechargeRow>) -> Result<Vec<Recharge>, sqlx::Error> {
    rows.into_iter().map(Recharge::try_from).collect()
}

/// A row, if any, read into a recharge.
pub(crate) fn read_one(row: Option<RechargeRow>) -> Result<Option<Recharge>, sqlx::Error> {
    row.map(Recharge::try_from).transpose()
}

impl Recharge {
    /// The money-moving call is settled enough to be resolved by a query: its answer was lost,
    /// or its deadline passed (the instance that sent it may have died).
    pub fn call_is_over(&self, now: DateTime<Utc>) -> bool {
        self.outcome_unknown || self.call_deadline.is_none_or(|d| d <= now)
    }

    /// In doubt and nobody is waiting on the call any more: only a query can tell.
    pub fn outcome_unknown_at(&self, now: DateTime<Utc>) -> bool {
        self.status.is_in_doubt() && self.call_is_over(now)
    }

    pub fn effectuation(&self) -> Option<&Effectuation> {
        self.effectuation.as_ref().map(|e| &e.0)
    }

    pub fn carat_answer(&self) -> Option<&CaratAnswer> {
        self.carat_answer.as_ref().map(|a| &a.0)
    }

    /// The receipts carrying its PIN, as sealed, if they were kept.
    pub fn sealed_receipts(&self) -> Option<SealedReceipt> {
        let key_id = KeyId::parse(self.receipt_key_id.as_deref()?).ok()?;
        Some(SealedReceipt {
            key_id,
            ciphertext: self.receipt_ciphertext.clone()?,
        })
    }

    /// Whether it may be confirmed: a PIN sale only once its PIN is kept, since a PIN nobody
    /// kept is a PIN nobody can deliver.
    pub fn may_be_confirmed(&self) -> bool {
        self.recharge_type != RechargeType::Others || self.receipt_ciphertext.is_some()
    }
}

/// One entry of a recharge's history.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
    pub name: String,
    /// Who decided it: `storefront`, `carat`, `reconciler:<instance>`, `operator:<token id>`.
    pub actor: Option<Actor>,
    pub detail: Value,
}

/// What the history records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    OutboundCall,
    Callback,
    StateChange,
    /// An operator's action in the console, with the reason they gave (before its effects).
    OperatorAction,
}

impl EventKind {
    const ALL: [Self; 4] = [
        Self::OutboundCall,
        Self::Callback,
        Self::StateChange,
        Self::OperatorAction,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OutboundCall => "outbound_call",
            Self::Callback => "callback",
            Self::StateChange => "state_change",
            Self::OperatorAction => "operator_action",
        }
    }
}

impl TryFrom<String> for EventKind {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == text)
            .ok_or_else(|| format!("unknown event kind {text:?}"))
    }
}

/// An outbound call's outcome, as the history keeps it.
#[derive(Clone, Debug)]
pub struct CallRecord {
    pub name: String,
    pub detail: Value,
}

pub async fn append_event(
    conn: &mut PgConnection,
    recharge_id: Uuid,
    kind: EventKind,
    name: &str,
    actor: &Actor,
    detail: Value,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
         VALUES ($1, $2, $3, $4, $5)",
        recharge_id,
        kind.as_str(),
        name,
        actor.to_string(),
        detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Appends one history entry on its own (an operator's action, before what it does).
pub async fn record_event(
    pool: &PgPool,
    recharge_id: Uuid,
    kind: EventKind,
    name: &str,
    actor: &Actor,
    detail: Value,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    append_event(&mut conn, recharge_id, kind, name, actor, detail).await
}

/// Records an outbound call whose outcome changes nothing else (a listing, a query).
pub async fn record_call(
    pool: &PgPool,
    recharge_id: Uuid,
    actor: &Actor,
    call: CallRecord,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    append_event(
        &mut conn,
        recharge_id,
        EventKind::OutboundCall,
        &call.name,
        actor,
        call.detail,
    )
    .await
}

pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!("SELECT", "FROM recharges WHERE id = $1", id)
        .fetch_optional(pool)
        .await?;
    Ok(read_one(row)?)
}

/// The recharge and, in the same round trip, what Carat listed for it: each kept listing's
/// body by its `listing` text (`listings::ListingKey`).
pub async fn find_listed(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(Recharge, serde_json::Map<String, Value>)>, StoreError> {
    let row = recharge_rows!(
        extra: "(SELECT jsonb_object_agg(l.listing, l.body) FROM recharge_listings l \
                 WHERE l.recharge_id = recharges.id)",
        "SELECT",
        "FROM recharges WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    let Some(mut row) = row else { return Ok(None) };
    let listings = match row.extra.take() {
        Some(Value::Object(listings)) => listings,
        _ => serde_json::Map::new(),
    };
    Ok(Some((Recharge::try_from(row)?, listings)))
}

/// The recharge and, in the same round trip, its whole history, oldest first.
pub async fn find_with_events(
    pool: &PgPool,
    id: Uuid,
) -> Result<Option<(Recharge, Vec<Event>)>, StoreError> {
    let row = recharge_rows!(
        extra: "(SELECT jsonb_agg(jsonb_build_object('id', e.id, 'at', e.at, 'kind', e.kind, \
                   'name', e.name, 'actor', e.actor, 'detail', e.detail) ORDER BY e.id) \
                 FROM recharge_events e WHERE e.recharge_id = recharges.id)",
        "SELECT",
        "FROM recharges WHERE id = $1",
        id
    )
    .fetch_optional(pool)
    .await?;
    let Some(mut row) = row else { return Ok(None) };
    let events = match row.extra.take() {
        Some(events) => serde_json::from_value::<Vec<EventRow>>(events)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        None => Vec::new(),
    };
    let events = events.into_iter().map(Event::try_from);
    Ok(Some((
        Recharge::try_from(row)?,
        events.collect::<Result<_, sqlx::Error>>()?,
    )))
}

/// Records an outbound call whose outcome changes nothing else (the create's), and reads the
/// recharge as it is now, in one statement: the call's answer is in, so whatever it caused
/// (the authenticity POST's NIT) is committed and seen.
pub async fn note_call_and_find(
    pool: &PgPool,
    id: Uuid,
    actor: &Actor,
    call: CallRecord,
) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!(
        "WITH noted AS (INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
                        VALUES ($1, $2, $3, $4, $5)) \
         SELECT",
        "FROM recharges WHERE id = $1",
        id,
        EventKind::OutboundCall.as_str(),
        call.name,
        actor.to_string(),
        call.detail,
    )
    .fetch_optional(pool)
    .await?;
    Ok(read_one(row)?)
}

pub async fn find_by_order_id(
    pool: &PgPool,
    order_id: &OrderId,
) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!(
        "SELECT",
        "FROM recharges WHERE order_id = $1",
        order_id.as_str()
    )
    .fetch_optional(pool)
    .await?;
    Ok(read_one(row)?)
}

pub async fn events(pool: &PgPool, id: Uuid) -> Result<Vec<Event>, StoreError> {
    let rows = sqlx::query_as!(
        EventRow,
        "SELECT id, at, kind, name, actor, detail FROM recharge_events \
         WHERE recharge_id = $1 ORDER BY id",
        id
    )
    .fetch_all(pool)
    .await?;
    let events = rows.into_iter().map(Event::try_from);
    Ok(events.collect::<Result<_, sqlx::Error>>()?)
}

/// A `recharge_events` row as PostgreSQL types, read as columns or as JSON.
#[derive(serde::Deserialize)]
struct EventRow {
    id: i64,
    at: DateTime<Utc>,
    kind: String,
    name: String,
    actor: Option<String>,
    detail: Value,
}

impl TryFrom<EventRow> for Event {
    type Error = sqlx::Error;

    fn try_from(row: EventRow) -> Result<Self, sqlx::Error> {
        Ok(Self {
            id: row.id,
            at: row.at,
            kind: parse("kind", row.kind)?,
            name: row.name,
            actor: parse_opt("actor", row.actor)?,
            detail: row.detail,
        })
    }
}

/// Writes a new recharge in `created`, with its first event, in one statement. Its
/// `merchant_usn` comes from a sequence shared by every instance. `create_window` bounds the
/// create call: past it, a recharge still without its NIT is failed by the reconciler.
pub async fn insert_created(
    pool: &PgPool,
    id: Uuid,
    order_id: &OrderId,
    recharge_type: RechargeType,
    auth_mode: AuthMode,
    create_window: Duration,
) -> Result<Recharge, StoreError> {
    // One statement: the row and its first event, the USN the sequence gave in its detail.
    let row = recharge_rows!(
        "WITH created AS ( \
           INSERT INTO recharges (id, recharge_type, order_id, status, call_deadline, \
                                  next_attempt_at, auth_mode) \
           VALUES ($1, $2, $3, 'created', now() + $4::bigint * interval '1 millisecond', \
                   now() + $4::bigint * interval '1 millisecond', $5) \
           RETURNING *), \
         noted AS ( \
           INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
           SELECT c.id, $6, 'created', $7, jsonb_build_object('to', 'created', \
                  'order_id', c.order_id, 'merchant_usn', c.merchant_usn, \
                  'auth_mode', c.auth_mode) \
           FROM created c) \
         SELECT",
        "FROM created",
        id,
        recharge_type.as_str(),
        order_id.as_str(),
        millis(create_window),
        auth_mode.as_str(),
        EventKind::StateChange.as_str(),
        Actor::Storefront.to_string(),
    )
    .fetch_one(pool)
    .await?;
    Ok(Recharge::try_from(row)?)
}

/// What storing a NIT for an order found, before the inbox says whether the POST is new.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NitFinding {
    /// The recharge was waiting: the NIT is now stored and the recharge `started`.
    Committed,
    /// The same NIT was already stored for this recharge: nothing changed.
    AlreadyCommitted,
    /// No recharge of ours has this order id and USN.
    NoRecharge,
    /// The recharge is no longer waiting for a NIT (its create failed or was given up).
    NotWaiting,
    /// This recharge holds another NIT, or this NIT belongs to another recharge.
    Conflict,
}

/// What the authenticity POST's commit did.
#[derive(Debug)]
pub enum NitCommit {
    /// The POST is new: what it found, and the recharge it names (none when it names none, or
    /// when its NIT belongs to another recharge).
    Found(NitFinding, Option<Uuid>),
    /// The same POST was received before: this is what was answered then.
    Replay(StoredCallback),
}

impl NitCommit {
    pub fn recharge_id(&self) -> Option<Uuid> {
        match self {
            Self::Found(_, id) => *id,
            Self::Replay(_) => None,
        }
    }
}

/// What an authenticity POST says, validated.
#[derive(Clone, Copy, Debug)]
pub struct NitPost<'a> {
    pub order_id: &'a OrderId,
    pub merchant_usn: MerchantUsn,
    pub nit: &'a Nit,
    pub general_hash: &'a GeneralHash,
}

/// What `sql/commit_nit.sql` answers.
struct CommitNitRow {
    finding: String,
    recharge_id: Option<Uuid>,
    callback_id: i64,
    first_receipt: bool,
    http_status: i16,
    reason: Option<String>,
}

/// Applies an authenticity POST and keeps it in the inbox with `verdict(finding)`, in one
/// auto-committed statement. The same POST again (a replay) is only counted and is answered
/// as the first one was. The caller answers 200 only on `Ok`: the statement has committed.
pub async fn commit_nit(
    pool: &PgPool,
    lane: &Lane,
    post: NitPost<'_>,
    nit_lifetime: Duration,
    receipt: &Receipt,
    verdict: impl Fn(NitFinding) -> Verdict,
    detail: Value,
) -> Result<NitCommit, StoreError> {
    let mut lent = lane.lend().await?;
    let outcome = run_commit_nit(
        lent.connection(),
        post,
        nit_lifetime,
        receipt,
        &verdict,
        detail,
    )
    .await;
    lent.give_back(&outcome);
    match outcome.map_err(StoreError::from) {
        Ok(row) => read_commit(row),
        // Two orders given one NIT at the same instant: the statement's own check could not
        // see the other's uncommitted row, the unique index did. Nothing was written; the
        // refusal is kept on its own.
        Err(StoreError::Duplicate(UniqueConstraint::Nit)) => {
            let stored =
                callbacks::keep_refused(pool, receipt, &verdict(NitFinding::Conflict)).await?;
            Ok(if stored.first_receipt {
                NitCommit::Found(NitFinding::Conflict, None)
            } else {
                NitCommit::Replay(stored)
            })
        }
        Err(e) => Err(e),
    }
}

/// `sql/commit_nit.sql`, sent with the verdict of every finding: the statement picks its own,
/// so the match and the inbox row need no second round trip.
async fn run_commit_nit(
    conn: &mut PgConnection,
    post: NitPost<'_>,
    nit_lifetime: Duration,
    receipt: &Receipt,
    verdict: &impl Fn(NitFinding) -> Verdict,
    detail: Value,
) -> Result<CommitNitRow, sqlx::Error> {
    let table: Vec<(&str, Verdict)> = NitFinding::SQL
        .iter()
        .map(|(name, finding)| (*name, verdict(*finding)))
        .collect();
    let findings: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    let outcomes: Vec<&str> = table.iter().map(|(_, v)| v.outcome.as_str()).collect();
    let statuses: Vec<i16> = table.iter().map(|(_, v)| v.http_status as i16).collect();
    let reasons: Vec<Option<&str>> = table.iter().map(|(_, v)| v.reason.as_deref()).collect();
    sqlx::query_file_as!(
        CommitNitRow,
        "src/sql/commit_nit.sql",
        post.order_id.as_str(),
        post.merchant_usn.get() as i64,
        post.nit.as_str(),
        post.general_hash.as_str(),
        millis(nit_lifetime),
        receipt.kind.as_str(),
        &receipt.raw_body,
        receipt.content_type.as_deref(),
        receipt.source_addr.as_deref(),
        receipt.forwarded_for.as_deref(),
        // `as _`: the macro's check takes text[] as `[String]` only, not borrowed or
        // optional elements; the statement's casts type them.
        &findings as _,
        &outcomes as _,
        &statuses,
        &reasons as _,
        detail,
        Actor::Carat.to_string(),
        EventKind::Callback.as_str(),
        EventKind::StateChange.as_str(),
    )
    .fetch_one(conn)
    .await
}

/// What the statement found, as the POST is answered.
fn read_commit(row: CommitNitRow) -> Result<NitCommit, StoreError> {
    if !row.first_receipt {
        return Ok(NitCommit::Replay(StoredCallback {
            id: row.callback_id,
            first_receipt: false,
            http_status: row.http_status,
            reason: row.reason,
        }));
    }
    let (finding, recharge_id) = match row.finding.as_str() {
        "nit_elsewhere" => (NitFinding::Conflict, None),
        name => (
            NitFinding::from_sql(name).ok_or_else(|| {
                StoreError::Other(codec::decode_error(
                    "finding",
                    format!("commit_nit.sql found {name:?}, which is no NitFinding"),
                ))
            })?,
            row.recharge_id,
        ),
    };
    Ok(NitCommit::Found(finding, recharge_id))
}

impl NitFinding {
    /// How `commit_nit.sql` names each finding. Its `nit_elsewhere` (the NIT is another
    /// recharge's) is answered as a conflict, without naming that recharge.
    const SQL: [(&'static str, Self); 6] = [
        ("committed", Self::Committed),
        ("already_committed", Self::AlreadyCommitted),
        ("no_recharge", Self::NoRecharge),
        ("not_waiting", Self::NotWaiting),
        ("conflict", Self::Conflict),
        ("nit_elsewhere", Self::Conflict),
    ];

    fn from_sql(name: &str) -> Option<Self> {
        Self::SQL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

/// Signature mode: stores the NIT that the signed create's answer carries (no authenticity
/// POST comes), with the same checks and the same writes as [`commit_nit`], and no inbox row
/// (nothing was received). `detail` is what the answer said, for the history.
pub async fn commit_answered_nit(
    pool: &PgPool,
    post: NitPost<'_>,
    nit_lifetime: Duration,
    detail: Value,
) -> Result<NitFinding, StoreError> {
    let NitPost {
        order_id,
        merchant_usn,
        nit,
        general_hash,
    } = post;
    let mut tx = pool.begin().await?;
    let (finding, id) = find_waiting(&mut tx, order_id, merchant_usn, nit).await?;
    let (NitFinding::Committed, Some(id)) = (finding, id) else {
        tx.commit().await?;
        return Ok(finding);
    };
    match store_nit(&mut tx, id, nit, general_hash, nit_lifetime).await {
        Ok(()) => {}
        Err(StoreError::Duplicate(UniqueConstraint::Nit)) => return Ok(NitFinding::Conflict),
        Err(e) => return Err(e),
    }
    append_event(
        &mut tx,
        id,
        EventKind::StateChange,
        "created -> started",
        &Actor::Carat,
        serde_json::json!({"from": "created", "to": "started", "nit": nit,
                           "from_create_answer": detail}),
    )
    .await?;
    tx.commit().await?;
    Ok(NitFinding::Committed)
}

/// The recharge a NIT for `order_id` and `merchant_usn` is for, locked, and what storing `nit`
/// in it would be (the rules of `commit_nit.sql`, for the signed create's answer).
async fn find_waiting(
    tx: &mut Transaction<'_, Postgres>,
    order_id: &OrderId,
    merchant_usn: MerchantUsn,
    nit: &Nit,
) -> Result<(NitFinding, Option<Uuid>), StoreError> {
    let found = sqlx::query!(
        "SELECT id, nit, status FROM recharges \
          WHERE order_id = $1 AND merchant_usn = $2 FOR UPDATE",
        order_id.as_str(),
        merchant_usn.get() as i64,
    )
    .fetch_optional(&mut **tx)
    .await?;
    let Some(found) = found else {
        return Ok((NitFinding::NoRecharge, None));
    };
    let status: RechargeStatus = parse("status", found.status)?;
    let finding = match found.nit {
        Some(stored) if stored == nit.as_str() => NitFinding::AlreadyCommitted,
        Some(_) => NitFinding::Conflict,
        None if status != RechargeStatus::Created => NitFinding::NotWaiting,
        None => NitFinding::Committed,
    };
    Ok((finding, Some(found.id)))
}

/// `created` → `started` with its NIT.
async fn store_nit(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    nit: &Nit,
    general_hash: &GeneralHash,
    nit_lifetime: Duration,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharges SET nit = $2, general_hash = $3, status = 'started', \
         carat_status = 'NOV', started_at = now(), call_deadline = NULL, \
         next_attempt_at = now() + $4::bigint * interval '1 millisecond', updated_at = now() \
         WHERE id = $1",
        id,
        nit.as_str(),
        general_hash.as_str(),
        millis(nit_lifetime),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// When the reconciler should next look at a recharge, on the database's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NextAttempt {
    /// The recharge has ended: never.
    Never,
    /// This long from now.
    In(Duration),
    /// This long after the effectuation went out (the pending-confirmation timeout).
    AfterEffectuation(Duration),
    /// This long after the NIT was committed (the NIT's lifetime).
    AfterStart(Duration),
}

impl NextAttempt {
    fn sql(self) -> (&'static str, i64) {
        match self {
            Self::Never => ("never", 0),
            Self::In(d) => ("now", millis(d)),
            Self::AfterEffectuation(d) => ("effectuated", millis(d)),
            Self::AfterStart(d) => ("started", millis(d)),
        }
    }
}

/// Which writes a step may overwrite.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guard {
    /// Only the status is checked: a new step from a settled state.
    Status,
    /// The row must still wait on this attempt: recording that call's outcome.
    Attempt(i64),
    /// The row must still wait on this attempt, and that call must be over (its outcome
    /// unknown, or its deadline passed): resolving it by query, or sending it again.
    CallOver(i64),
}

/// What a step writes besides the status. `None` keeps the stored value.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub carat_status: Option<CaratStatus>,
    pub outcome_unknown: bool,
    /// The effectuation's input, stored as the call goes out.
    pub effectuation: Option<Effectuation>,
    /// Merged into the stored answer: a part it leaves out keeps its stored value.
    pub carat_answer: Option<CaratAnswer>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
    /// An `others` sale's receipts, sealed: written once, never over.
    pub sealed_receipts: Option<SealedReceipt>,
    /// `Some((code, message))` records Carat's last refusal.
    pub error: Option<(Option<String>, Option<String>)>,
    /// The `used_payment_methods` a confirmation sends, kept for its resend.
    pub decision_payment_methods: Option<Vec<String>>,
    /// The linked card payment's row (`payments.rs`), written only if the step applies.
    pub payment: Option<super::payments::PaymentWrite>,
}

/// One move of a recharge: `from` -> `to` under `guard`, written with its history in one
/// transaction.
#[derive(Clone, Debug)]
pub struct Step {
    pub id: Uuid,
    pub from: RechargeStatus,
    pub to: RechargeStatus,
    pub guard: Guard,
    /// A money-moving call goes out with this step: the attempt is bumped, and the call
    /// counts as out for this long (its deadline).
    pub call_window: Option<Duration>,
    pub next: NextAttempt,
    pub changes: Changes,
    pub actor: Actor,
    /// The outbound call whose outcome this step records, kept first in the history.
    pub call: Option<CallRecord>,
    pub detail: Value,
}

/// Applies `step` if the recharge is still where the step expects it. `Ok(None)`: someone else
/// moved it first (another request, another instance, a newer attempt); nothing was written
/// but the call's record. One statement writes the row and its history; a step that writes
/// the linked payment's row too runs in a transaction with it.
pub async fn apply(pool: &PgPool, mut step: Step) -> Result<Option<Recharge>, StoreError> {
    let (from, to) = (step.from, step.to);
    debug_assert!(from == to || from.can_become(to), "{from} -> {to}");
    debug_assert_eq!(to.is_final(), step.next == NextAttempt::Never, "{to}");
    let mut changes = std::mem::take(&mut step.changes);
    let Some(payment) = changes.payment.take() else {
        let mut conn = pool.acquire().await?;
        return write_step(&mut conn, step, changes).await;
    };
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let id = step.id;
    let updated = write_step(&mut tx, step, changes).await?;
    if updated.is_some() {
        super::payments::write(&mut tx, id, payment).await?;
    }
    tx.commit().await?;
    Ok(updated)
}

/// The row's update for `step`, under its guard, with its history: `None` if the row is no
/// longer where the step expects it, and then only the call's record is written (the call
/// happened whether or not this step still applies: its outcome is evidence). `changes` is
/// written over the stored values it names. The call's record comes first in the history,
/// then the state change, which carries the attempt and doubt the row has now.
async fn write_step(
    conn: &mut PgConnection,
    step: Step,
    changes: Changes,
) -> Result<Option<Recharge>, StoreError> {
    let (guard_attempt, call_over) = match step.guard {
        Guard::Status => (None, false),
        Guard::Attempt(a) => (Some(a), false),
        Guard::CallOver(a) => (Some(a), true),
    };
    let (next_kind, next_ms) = step.next.sql();
    let carat_answer = changes.carat_answer.filter(|a| !a.is_empty());
    let sealed = changes.sealed_receipts;
    let (error_code, error_message, error_write) = match last_error_write(step.to, changes.error) {
        Some((code, message)) => (code, message, true),
        None => (None, None, false),
    };
    let (from, to) = (step.from, step.to);
    let name = if from == to {
        from.as_str().to_owned()
    } else {
        format!("{from} -> {to}")
    };
    let mut detail = step.detail;
    if let Value::Object(map) = &mut detail {
        map.insert("from".into(), from.as_str().into());
        map.insert("to".into(), to.as_str().into());
    }
    let (call_name, call_detail) = step.call.map(|c| (c.name, c.detail)).unzip();
    let row = recharge_rows!(
        "WITH updated AS ( \
          UPDATE recharges SET \
            status = $3, \
            carat_status = COALESCE($4, carat_status), \
            outcome_unknown = $5, \
            attempt = attempt + CASE WHEN $6 THEN 1 ELSE 0 END, \
            call_deadline = CASE WHEN $6 THEN now() + $7::bigint * interval '1 millisecond' END, \
            effectuated_at = CASE WHEN $6 AND $3 = 'effectuating' THEN now() ELSE effectuated_at END, \
            next_attempt_at = CASE $8 \
                WHEN 'never' THEN NULL \
                WHEN 'effectuated' THEN COALESCE(effectuated_at, now()) + $9::bigint * interval '1 millisecond' \
                WHEN 'started' THEN COALESCE(started_at, now()) + $9::bigint * interval '1 millisecond' \
                ELSE now() + $9::bigint * interval '1 millisecond' END, \
            reconcile_attempts = CASE WHEN $2 <> $3 THEN 0 ELSE reconcile_attempts END, \
            reconcile_error = CASE WHEN $2 <> $3 THEN NULL ELSE reconcile_error END, \
            effectuation = COALESCE($10, effectuation), \
            carat_answer = CASE WHEN $11::jsonb IS NULL THEN carat_answer \
                ELSE COALESCE(carat_answer, '{}'::jsonb) || $11 END, \
            customer_receipt = COALESCE($12, customer_receipt), \
            merchant_receipt = COALESCE($13, merchant_receipt), \
            receipt_ciphertext = COALESCE(receipt_ciphertext, $19), \
            receipt_key_id = CASE WHEN receipt_ciphertext IS NULL THEN $20 ELSE receipt_key_id END, \
            last_error_code = CASE WHEN $14 THEN $15 ELSE last_error_code END, \
            last_error_message = CASE WHEN $14 THEN $16 ELSE last_error_message END, \
            decision_payment_methods = COALESCE($21, decision_payment_methods), \
            updated_at = now() \
          WHERE id = $1 AND status = $2 \
            AND ($17::bigint IS NULL OR attempt = $17) \
            AND (NOT $18 OR outcome_unknown OR call_deadline IS NULL OR call_deadline <= now()) \
          RETURNING *), \
        noted AS ( \
          INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
          SELECT $1, kind, name, $22, detail FROM ( \
            SELECT 1 AS n, 'outbound_call' AS kind, $23::text AS name, $24::jsonb AS detail \
            WHERE $23::text IS NOT NULL \
            UNION ALL \
            SELECT 2, 'state_change', $25::text, \
              CASE WHEN jsonb_typeof($26::jsonb) = 'object' THEN $26::jsonb \
                || jsonb_build_object('attempt', u.attempt, 'outcome_unknown', u.outcome_unknown) \
              ELSE $26::jsonb END \
            FROM updated u) AS e \
          ORDER BY n) \
        SELECT",
        "FROM updated",
        step.id,
        from.as_str(),
        to.as_str(),
        changes.carat_status.as_ref().map(CaratStatus::as_str),
        changes.outcome_unknown,
        step.call_window.is_some(),
        step.call_window.map(millis).unwrap_or(0),
        next_kind,
        next_ms,
        // `as _`: the macro's check takes jsonb as `Value` only, not `Json<T>`.
        changes.effectuation.map(Json) as _,
        carat_answer.map(Json) as _,
        changes.customer_receipt,
        changes.merchant_receipt,
        error_write,
        error_code,
        error_message,
        guard_attempt,
        call_over,
        sealed.as_ref().map(|r| r.ciphertext.clone()),
        sealed.as_ref().map(|r| r.key_id.as_str().to_owned()),
        changes.decision_payment_methods.map(Json) as _,
        step.actor.to_string(),
        call_name,
        call_detail,
        name,
        detail,
    )
    .fetch_optional(conn)
    .await?;
    Ok(read_one(row)?)
}

/// The last error a step writes: its own, or none once the recharge has succeeded (effectuated
/// or confirmed), so that an earlier refusal is not shown as if it still stood; the history
/// keeps it. `None` keeps the stored one.
fn last_error_write(
    to: RechargeStatus,
    error: Option<(Option<String>, Option<String>)>,
) -> Option<(Option<String>, Option<String>)> {
    match to {
        _ if error.is_some() => error,
        RechargeStatus::PendingConfirmation | RechargeStatus::Confirmed => Some((None, None)),
        _ => None,
    }
}

/// Claims up to `limit` recharges that are due, for `lease`: no other reconciler takes them
/// before the lease ends or is released. Committed at once: no transaction is held across
/// the calls to Carat that follow.
pub async fn claim_due(
    pool: &PgPool,
    owner: &str,
    lease: Duration,
    limit: i64,
) -> Result<Vec<Recharge>, StoreError> {
    let rows = recharge_rows!(
        "UPDATE recharges SET lease_owner = $1, \
                lease_until = now() + $2::bigint * interval '1 millisecond' \
         WHERE id IN ( \
            SELECT id FROM recharges \
             WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now()) \
             ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING",
        "",
        owner,
        millis(lease),
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(read_all(rows)?)
}

/// A recharge read under a lease, and whether it is due on the database's clock.
#[derive(Clone, Debug)]
pub struct Leased {
    pub recharge: Recharge,
    pub due: bool,
}

/// Extends this owner's lease and reads the recharge afresh; `None` once the lease is lost.
pub async fn renew_lease(
    pool: &PgPool,
    id: Uuid,
    owner: &str,
    lease: Duration,
) -> Result<Option<Leased>, StoreError> {
    let row = recharge_rows!(
        "UPDATE recharges SET lease_until = now() + $3::bigint * interval '1 millisecond' \
         WHERE id = $1 AND lease_owner = $2 \
         RETURNING",
        "",
        id,
        owner,
        millis(lease),
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let due = row.due;
    Ok(Some(Leased {
        recharge: Recharge::try_from(row)?,
        due,
    }))
}

/// Takes the lease on one recharge for `owner` (an operator's action) if nobody holds it, and
/// reads the recharge afresh: while it is held, no reconciler claims the recharge. `None`:
/// someone holds it now.
pub async fn take_lease(
    pool: &PgPool,
    id: Uuid,
    owner: &str,
    lease: Duration,
) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!(
        "UPDATE recharges SET lease_owner = $2, \
                lease_until = now() + $3::bigint * interval '1 millisecond' \
         WHERE id = $1 AND (lease_until IS NULL OR lease_until <= now()) \
         RETURNING",
        "",
        id,
        owner,
        millis(lease),
    )
    .fetch_optional(pool)
    .await?;
    Ok(read_one(row)?)
}

pub async fn release_lease(pool: &PgPool, id: Uuid, owner: &str) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharges SET lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2",
        id,
        owner,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// A reconciler attempt that moved nothing: counted, explained, and the next one scheduled
/// `delay` from now, unless the recharge moved meanwhile.
pub async fn postpone(
    pool: &PgPool,
    id: Uuid,
    status: RechargeStatus,
    attempt: i64,
    delay: Duration,
    reason: &str,
) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!(
        "UPDATE recharges SET reconcile_attempts = reconcile_attempts + 1, reconcile_error = $4, \
            next_attempt_at = now() + $5::bigint * interval '1 millisecond' \
         WHERE id = $1 AND status = $2 AND attempt = $3 AND next_attempt_at IS NOT NULL \
         RETURNING",
        "",
        id,
        status.as_str(),
        attempt,
        reason,
        millis(delay),
    )
    .fetch_optional(pool)
    .await?;
    Ok(read_one(row)?)
}

/// How many recharges are in each status, for the metrics: one row per status, whatever the
/// table's size. sqlx's own error: the metrics report it as it is.
pub async fn recharges_by_status(
    conn: &mut PgConnection,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows =
        sqlx::query!(r#"SELECT status, count(*) AS "count!" FROM recharges GROUP BY status"#)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.count)).collect())
}

/// A duration in whole milliseconds, as SQL takes it.
pub(super) fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_clears_the_last_error_and_other_steps_keep_it() {
        use RechargeStatus::*;
        let refusal = Some((Some("55".to_owned()), Some("esitef error".to_owned())));
        assert_eq!(last_error_write(Started, refusal.clone()), refusal);
        assert_eq!(
            last_error_write(PendingConfirmation, None),
            Some((None, None))
        );
        assert_eq!(last_error_write(Confirmed, None), Some((None, None)));
        for keeps in [
            Started,
            Effectuating,
            Confirming,
            Undoing,
            Undone,
            Failed,
            Expired,
        ] {
            assert_eq!(last_error_write(keeps, None), None, "{keeps}");
        }
    }
}
