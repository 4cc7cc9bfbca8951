//! Every SQL statement about recharges and their history.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;
use super::callbacks::{self, Receipt, StoredCallback, Verdict};
use super::lane::Lane;
use carat_domain::receipt_cipher::{KeyId, SealedReceipt};
use carat_domain::{
    Actor, AuthMode, CaratAnswer, Effectuation, GeneralHash, MerchantUsn, Nit, OrderId,
    RechargeStatus, RechargeType,
};

/// One recharge as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Recharge {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub recharge_type: RechargeType,
    #[sqlx(try_from = "String")]
    pub order_id: OrderId,
    pub merchant_usn: i64,
    #[sqlx(try_from = "super::codec::NitColumn")]
    pub nit: Option<Nit>,
    pub general_hash: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: RechargeStatus,
    pub carat_status: Option<String>,
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
    #[sqlx(try_from = "String")]
    pub auth_mode: AuthMode,
}

impl Recharge {
    pub fn merchant_usn(&self) -> MerchantUsn {
        MerchantUsn::new(self.merchant_usn as u64).expect("the CHECK constraint bounds it")
    }

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
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub name: String,
    /// Who decided it: `storefront`, `carat`, `reconciler:<instance>`.
    pub actor: Option<String>,
    pub detail: Value,
}

/// What the history records.
#[derive(Clone, Copy, Debug)]
pub enum EventKind {
    OutboundCall,
    Callback,
    StateChange,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::OutboundCall => "outbound_call",
            Self::Callback => "callback",
            Self::StateChange => "state_change",
        }
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
    sqlx::query(
        "INSERT INTO recharge_events (recharge_id, kind, name, actor, detail) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(recharge_id)
    .bind(kind.as_str())
    .bind(name)
    .bind(actor.to_string())
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
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
    Ok(sqlx::query_as("SELECT * FROM recharges WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?)
}

pub async fn find_by_order_id(
    pool: &PgPool,
    order_id: &OrderId,
) -> Result<Option<Recharge>, StoreError> {
    Ok(
        sqlx::query_as("SELECT * FROM recharges WHERE order_id = $1")
            .bind(order_id.as_str())
            .fetch_optional(pool)
            .await?,
    )
}

pub async fn events(pool: &PgPool, id: Uuid) -> Result<Vec<Event>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, at, kind, name, actor, detail FROM recharge_events \
         WHERE recharge_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Writes a new recharge in `created`, with its first event, in one transaction. Its
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
    let mut tx = pool.begin().await?;
    let recharge: Recharge = sqlx::query_as(
        "INSERT INTO recharges (id, recharge_type, order_id, status, call_deadline, next_attempt_at, \
                                auth_mode) \
         VALUES ($1, $2, $3, 'created', now() + $4 * interval '1 millisecond', \
                 now() + $4 * interval '1 millisecond', $5) RETURNING *",
    )
    .bind(id)
    .bind(recharge_type.as_str())
    .bind(order_id.as_str())
    .bind(millis(create_window))
    .bind(auth_mode.as_str())
    .fetch_one(&mut *tx)
    .await?;
    append_event(
        &mut tx,
        id,
        EventKind::StateChange,
        "created",
        &Actor::Storefront,
        serde_json::json!({"to": "created", "order_id": order_id, "merchant_usn": recharge.merchant_usn,
                           "auth_mode": auth_mode}),
    )
    .await?;
    tx.commit().await?;
    Ok(recharge)
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

/// The statement that applies an authenticity POST (see the file for how).
const COMMIT_NIT: &str = include_str!("sql/commit_nit.sql");

/// What [`COMMIT_NIT`] answers.
#[derive(sqlx::FromRow)]
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
    // The verdict of every finding goes with the statement, which picks its own: the match
    // and the inbox row then need no second round trip.
    let table: Vec<(&str, Verdict)> = NitFinding::SQL
        .iter()
        .map(|(name, finding)| (*name, verdict(*finding)))
        .collect();
    let mut lent = lane.lend().await?;
    let outcome: Result<CommitNitRow, sqlx::Error> = sqlx::query_as(COMMIT_NIT)
        .bind(post.order_id.as_str())
        .bind(post.merchant_usn.get() as i64)
        .bind(post.nit.as_str())
        .bind(post.general_hash.as_str())
        .bind(millis(nit_lifetime))
        .bind(receipt.kind)
        .bind(&receipt.raw_body)
        .bind(receipt.content_type.as_deref())
        .bind(receipt.source_addr.as_deref())
        .bind(receipt.forwarded_for.as_deref())
        .bind(table.iter().map(|(name, _)| *name).collect::<Vec<_>>())
        .bind(
            table
                .iter()
                .map(|(_, v)| v.outcome.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(
            table
                .iter()
                .map(|(_, v)| v.http_status as i16)
                .collect::<Vec<_>>(),
        )
        .bind(
            table
                .iter()
                .map(|(_, v)| v.reason.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(detail)
        .bind(Actor::Carat.to_string())
        .bind(EventKind::Callback.as_str())
        .bind(EventKind::StateChange.as_str())
        .fetch_one(lent.connection())
        .await;
    lent.give_back(&outcome);
    let row = match outcome.map_err(StoreError::from) {
        Ok(row) => row,
        // Two orders given one NIT at the same instant: the statement's own check could not
        // see the other's uncommitted row, the unique index did. Nothing was written; the
        // refusal is kept on its own.
        Err(StoreError::Duplicate("nit")) => {
            let stored =
                callbacks::keep_refused(pool, receipt, &verdict(NitFinding::Conflict)).await?;
            return Ok(if stored.first_receipt {
                NitCommit::Found(NitFinding::Conflict, None)
            } else {
                NitCommit::Replay(stored)
            });
        }
        Err(e) => return Err(e),
    };
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
                StoreError::Other(sqlx::Error::Decode(
                    format!("commit_nit.sql found {name:?}, which is no NitFinding").into(),
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
        Err(StoreError::Duplicate("nit")) => return Ok(NitFinding::Conflict),
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
    let found: Option<(Uuid, Option<String>, String)> = sqlx::query_as(
        "SELECT id, nit, status FROM recharges \
          WHERE order_id = $1 AND merchant_usn = $2 FOR UPDATE",
    )
    .bind(order_id.as_str())
    .bind(merchant_usn.get() as i64)
    .fetch_optional(&mut **tx)
    .await?;
    let Some((id, stored, status)) = found else {
        return Ok((NitFinding::NoRecharge, None));
    };
    let finding = match stored {
        Some(stored) if stored == nit.as_str() => NitFinding::AlreadyCommitted,
        Some(_) => NitFinding::Conflict,
        None if status != RechargeStatus::Created.as_str() => NitFinding::NotWaiting,
        None => NitFinding::Committed,
    };
    Ok((finding, Some(id)))
}

/// `created` → `started` with its NIT.
async fn store_nit(
    tx: &mut Transaction<'_, Postgres>,
    id: Uuid,
    nit: &Nit,
    general_hash: &GeneralHash,
    nit_lifetime: Duration,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE recharges SET nit = $2, general_hash = $3, status = 'started', \
         carat_status = 'NOV', started_at = now(), call_deadline = NULL, \
         next_attempt_at = now() + $4 * interval '1 millisecond', updated_at = now() \
         WHERE id = $1",
    )
    .bind(id)
    .bind(nit.as_str())
    .bind(general_hash.as_str())
    .bind(millis(nit_lifetime))
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
    pub carat_status: Option<String>,
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
/// moved it first (another request, another instance, a newer attempt); nothing was written.
pub async fn apply(pool: &PgPool, step: Step) -> Result<Option<Recharge>, StoreError> {
    let Step {
        id,
        from,
        to,
        guard,
        call_window,
        next,
        changes,
        actor,
        call,
        detail,
    } = step;
    debug_assert!(from == to || from.can_become(to), "{from} -> {to}");
    debug_assert_eq!(to.is_final(), next == NextAttempt::Never, "{to}");
    let (guard_attempt, call_over) = match guard {
        Guard::Status => (None, false),
        Guard::Attempt(a) => (Some(a), false),
        Guard::CallOver(a) => (Some(a), true),
    };
    let (next_kind, next_ms) = next.sql();
    let carat_answer = changes.carat_answer.filter(|a| !a.is_empty());
    let sealed = changes.sealed_receipts;
    let payment = changes.payment;
    let (error_code, error_message, error_write) = match last_error_write(to, changes.error) {
        Some((code, message)) => (code, message, true),
        None => (None, None, false),
    };
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let updated: Option<Recharge> = sqlx::query_as(
        "UPDATE recharges SET \
            status = $3, \
            carat_status = COALESCE($4, carat_status), \
            outcome_unknown = $5, \
            attempt = attempt + CASE WHEN $6 THEN 1 ELSE 0 END, \
            call_deadline = CASE WHEN $6 THEN now() + $7 * interval '1 millisecond' END, \
            effectuated_at = CASE WHEN $6 AND $3 = 'effectuating' THEN now() ELSE effectuated_at END, \
            next_attempt_at = CASE $8 \
                WHEN 'never' THEN NULL \
                WHEN 'effectuated' THEN COALESCE(effectuated_at, now()) + $9 * interval '1 millisecond' \
                WHEN 'started' THEN COALESCE(started_at, now()) + $9 * interval '1 millisecond' \
                ELSE now() + $9 * interval '1 millisecond' END, \
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
         RETURNING *",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(changes.carat_status)
    .bind(changes.outcome_unknown)
    .bind(call_window.is_some())
    .bind(call_window.map(millis).unwrap_or(0))
    .bind(next_kind)
    .bind(next_ms)
    .bind(changes.effectuation.map(Json))
    .bind(carat_answer.map(Json))
    .bind(changes.customer_receipt)
    .bind(changes.merchant_receipt)
    .bind(error_write)
    .bind(error_code)
    .bind(error_message)
    .bind(guard_attempt)
    .bind(call_over)
    .bind(sealed.as_ref().map(|r| r.ciphertext.clone()))
    .bind(sealed.as_ref().map(|r| r.key_id.as_str().to_owned()))
    .bind(changes.decision_payment_methods.map(Json))
    .fetch_optional(&mut *tx)
    .await?;
    // The call happened whether or not this step still applies: its outcome is evidence.
    if let Some(call) = call {
        append_event(
            &mut tx,
            id,
            EventKind::OutboundCall,
            &call.name,
            &actor,
            call.detail,
        )
        .await?;
    }
    let Some(updated) = updated else {
        tx.commit().await?;
        return Ok(None);
    };
    if let Some(payment) = payment {
        super::payments::write(&mut tx, id, payment).await?;
    }
    let name = if from == to {
        from.as_str().to_owned()
    } else {
        format!("{from} -> {to}")
    };
    let mut detail = detail;
    if let Value::Object(map) = &mut detail {
        map.insert("from".into(), from.as_str().into());
        map.insert("to".into(), to.as_str().into());
        map.insert("attempt".into(), updated.attempt.into());
        map.insert("outcome_unknown".into(), updated.outcome_unknown.into());
    }
    append_event(&mut tx, id, EventKind::StateChange, &name, &actor, detail).await?;
    tx.commit().await?;
    Ok(Some(updated))
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
    Ok(sqlx::query_as(
        "UPDATE recharges SET lease_owner = $1, lease_until = now() + $2 * interval '1 millisecond' \
         WHERE id IN ( \
            SELECT id FROM recharges \
             WHERE next_attempt_at <= now() AND (lease_until IS NULL OR lease_until <= now()) \
             ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING *",
    )
    .bind(owner)
    .bind(millis(lease))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// A recharge read under a lease, and whether it is due on the database's clock.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Leased {
    #[sqlx(flatten)]
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
    Ok(sqlx::query_as(
        "UPDATE recharges SET lease_until = now() + $3 * interval '1 millisecond' \
         WHERE id = $1 AND lease_owner = $2 \
         RETURNING *, COALESCE(next_attempt_at <= now(), false) AS due",
    )
    .bind(id)
    .bind(owner)
    .bind(millis(lease))
    .fetch_optional(pool)
    .await?)
}

pub async fn release_lease(pool: &PgPool, id: Uuid, owner: &str) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE recharges SET lease_owner = NULL, lease_until = NULL \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
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
    Ok(sqlx::query_as(
        "UPDATE recharges SET reconcile_attempts = reconcile_attempts + 1, reconcile_error = $4, \
            next_attempt_at = now() + $5 * interval '1 millisecond' \
         WHERE id = $1 AND status = $2 AND attempt = $3 AND next_attempt_at IS NOT NULL \
         RETURNING *",
    )
    .bind(id)
    .bind(status.as_str())
    .bind(attempt)
    .bind(reason)
    .bind(millis(delay))
    .fetch_optional(pool)
    .await?)
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
