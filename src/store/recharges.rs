//! Every SQL statement about recharges and their history.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;
use crate::domain::{GeneralHash, MerchantUsn, Nit, OrderId, RechargeStatus, RechargeType};

/// One recharge as stored.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Recharge {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub recharge_type: RechargeType,
    #[sqlx(try_from = "String")]
    pub order_id: OrderId,
    pub merchant_usn: i64,
    pub nit: Option<Nit>,
    pub general_hash: Option<String>,
    #[sqlx(try_from = "String")]
    pub status: RechargeStatus,
    pub carat_status: Option<String>,
    pub outcome_unknown: bool,
    pub call_deadline: Option<DateTime<Utc>>,
    pub dealer_code: Option<String>,
    pub dealer_type_code: Option<String>,
    pub phone_ddd: Option<String>,
    pub phone_number: Option<String>,
    pub amount_cents: Option<i64>,
    pub amount_key: Option<String>,
    pub esitef_usn: Option<String>,
    pub authorization_data: Option<Value>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
    pub last_error_code: Option<String>,
    pub last_error_message: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
}

/// One entry of a recharge's history.
#[derive(Clone, Debug, sqlx::FromRow, serde::Serialize)]
pub struct Event {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub kind: String,
    pub name: String,
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

pub async fn append_event(
    conn: &mut PgConnection,
    recharge_id: Uuid,
    kind: EventKind,
    name: &str,
    detail: Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recharge_events (recharge_id, kind, name, detail) VALUES ($1, $2, $3, $4)",
    )
    .bind(recharge_id)
    .bind(kind.as_str())
    .bind(name)
    .bind(detail)
    .execute(conn)
    .await?;
    Ok(())
}

/// Records an event outside any other statement (an outbound call's outcome that changes
/// nothing else).
pub async fn record_event(
    pool: &PgPool,
    recharge_id: Uuid,
    kind: EventKind,
    name: &str,
    detail: Value,
) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    append_event(&mut conn, recharge_id, kind, name, detail).await
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
        "SELECT id, at, kind, name, detail FROM recharge_events WHERE recharge_id = $1 ORDER BY id",
    )
    .bind(id)
    .fetch_all(pool)
    .await?)
}

/// Writes a new recharge in `created`, with its first events, in one transaction. Its
/// `merchant_usn` comes from a sequence shared by every instance.
pub async fn insert_created(
    pool: &PgPool,
    id: Uuid,
    order_id: &OrderId,
    recharge_type: RechargeType,
) -> Result<Recharge, StoreError> {
    let mut tx = pool.begin().await?;
    let recharge: Recharge = sqlx::query_as(
        "INSERT INTO recharges (id, recharge_type, order_id, status) \
         VALUES ($1, $2, $3, 'created') RETURNING *",
    )
    .bind(id)
    .bind(recharge_type.as_str())
    .bind(order_id.as_str())
    .fetch_one(&mut *tx)
    .await?;
    append_event(
        &mut tx,
        id,
        EventKind::StateChange,
        "created",
        serde_json::json!({"to": "created", "order_id": order_id, "merchant_usn": recharge.merchant_usn}),
    )
    .await?;
    tx.commit().await?;
    Ok(recharge)
}

/// What the authenticity POST's commit found.
#[derive(Debug)]
pub enum NitCommit {
    /// The NIT is now stored and the recharge `started`.
    Committed(Recharge),
    /// The same NIT was already stored for this recharge: nothing changed.
    AlreadyCommitted(Recharge),
    /// No create of ours is waiting for a NIT under this order id and USN.
    NoPendingCreate,
    /// This recharge holds another NIT, or this NIT belongs to another recharge.
    Conflict,
}

/// Stores the NIT that Carat's authenticity POST carries, in one transaction with its events.
pub async fn commit_nit(
    pool: &PgPool,
    order_id: &OrderId,
    merchant_usn: MerchantUsn,
    nit: &Nit,
    general_hash: &GeneralHash,
    callback: Value,
) -> Result<NitCommit, StoreError> {
    let mut tx = pool.begin().await?;
    let found: Option<Recharge> = sqlx::query_as(
        "SELECT * FROM recharges WHERE order_id = $1 AND merchant_usn = $2 FOR UPDATE",
    )
    .bind(order_id.as_str())
    .bind(merchant_usn.get() as i64)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(recharge) = found else {
        return Ok(NitCommit::NoPendingCreate);
    };
    match &recharge.nit {
        Some(stored) if stored == nit => return Ok(NitCommit::AlreadyCommitted(recharge)),
        Some(_) => return Ok(NitCommit::Conflict),
        None if recharge.status != RechargeStatus::Created => {
            return Ok(NitCommit::NoPendingCreate);
        }
        None => {}
    }
    let updated: Recharge = match sqlx::query_as(
        "UPDATE recharges SET nit = $2, general_hash = $3, status = 'started', carat_status = 'NOV', \
         updated_at = now() WHERE id = $1 RETURNING *",
    )
    .bind(recharge.id)
    .bind(nit.as_str())
    .bind(general_hash.as_str())
    .fetch_one(&mut *tx)
    .await
    .map_err(StoreError::from)
    {
        Ok(updated) => updated,
        Err(StoreError::Duplicate("nit")) => return Ok(NitCommit::Conflict),
        Err(e) => return Err(e),
    };
    append_event(
        &mut tx,
        recharge.id,
        EventKind::Callback,
        "authenticity",
        callback,
    )
    .await?;
    append_event(
        &mut tx,
        recharge.id,
        EventKind::StateChange,
        "created -> started",
        serde_json::json!({"from": "created", "to": "started", "nit": nit}),
    )
    .await?;
    tx.commit().await?;
    Ok(NitCommit::Committed(updated))
}

/// The effectuation's inputs, stored as the call goes out.
#[derive(Clone, Debug, Default)]
pub struct EffectuationInput {
    pub dealer_code: String,
    pub dealer_type_code: String,
    pub phone_ddd: String,
    pub phone_number: String,
    pub amount_cents: i64,
    pub amount_key: Option<String>,
}

/// What a transition writes besides the status. `None` keeps the stored value.
#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub carat_status: Option<String>,
    pub outcome_unknown: bool,
    pub call_deadline: Option<DateTime<Utc>>,
    pub effectuation: Option<EffectuationInput>,
    pub esitef_usn: Option<String>,
    pub authorization: Option<Value>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
    /// `Some((code, message))` records Carat's last refusal.
    pub error: Option<(Option<String>, Option<String>)>,
}

/// Moves a recharge from `from` to `to`, only if it is still in `from` (and, with
/// `only_if_call_over`, only if its money-moving call is over), with `changes` and a history
/// entry, in one transaction. `Ok(None)`: someone else moved it first; nothing was written.
pub async fn transition(
    pool: &PgPool,
    id: Uuid,
    from: RechargeStatus,
    to: RechargeStatus,
    only_if_call_over: bool,
    changes: Changes,
    detail: Value,
) -> Result<Option<Recharge>, StoreError> {
    debug_assert!(from == to || from.can_become(to), "{from} -> {to}");
    let mut tx: Transaction<'_, Postgres> = pool.begin().await?;
    let has_effectuation = changes.effectuation.is_some();
    let effectuation = changes.effectuation.unwrap_or_default();
    let (error_code, error_message, has_error) = match changes.error {
        Some((code, message)) => (code, message, true),
        None => (None, None, false),
    };
    let updated: Option<Recharge> = sqlx::query_as(
        "UPDATE recharges SET \
            status = $3, \
            carat_status = COALESCE($4, carat_status), \
            outcome_unknown = $5, \
            call_deadline = $6, \
            dealer_code = CASE WHEN $7 THEN $8 ELSE dealer_code END, \
            dealer_type_code = CASE WHEN $7 THEN $9 ELSE dealer_type_code END, \
            phone_ddd = CASE WHEN $7 THEN $10 ELSE phone_ddd END, \
            phone_number = CASE WHEN $7 THEN $11 ELSE phone_number END, \
            amount_cents = CASE WHEN $7 THEN $12 ELSE amount_cents END, \
            amount_key = CASE WHEN $7 THEN $13 ELSE amount_key END, \
            esitef_usn = COALESCE($14, esitef_usn), \
            authorization_data = COALESCE($15, authorization_data), \
            customer_receipt = COALESCE($16, customer_receipt), \
            merchant_receipt = COALESCE($17, merchant_receipt), \
            last_error_code = CASE WHEN $18 THEN $19 ELSE last_error_code END, \
            last_error_message = CASE WHEN $18 THEN $20 ELSE last_error_message END, \
            updated_at = now() \
         WHERE id = $1 AND status = $2 \
           AND (NOT $21 OR outcome_unknown OR call_deadline IS NULL OR call_deadline <= now()) \
         RETURNING *",
    )
    .bind(id)
    .bind(from.as_str())
    .bind(to.as_str())
    .bind(changes.carat_status)
    .bind(changes.outcome_unknown)
    .bind(changes.call_deadline)
    .bind(has_effectuation)
    .bind(effectuation.dealer_code)
    .bind(effectuation.dealer_type_code)
    .bind(effectuation.phone_ddd)
    .bind(effectuation.phone_number)
    .bind(effectuation.amount_cents)
    .bind(effectuation.amount_key)
    .bind(changes.esitef_usn)
    .bind(changes.authorization)
    .bind(changes.customer_receipt)
    .bind(changes.merchant_receipt)
    .bind(has_error)
    .bind(error_code)
    .bind(error_message)
    .bind(only_if_call_over)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(updated) = updated else {
        return Ok(None);
    };
    let name = if from == to {
        from.as_str().to_owned()
    } else {
        format!("{from} -> {to}")
    };
    let mut detail = detail;
    if let Value::Object(map) = &mut detail {
        map.insert("from".into(), from.as_str().into());
        map.insert("to".into(), to.as_str().into());
        map.insert("outcome_unknown".into(), updated.outcome_unknown.into());
    }
    append_event(&mut tx, id, EventKind::StateChange, &name, detail).await?;
    tx.commit().await?;
    Ok(Some(updated))
}
