//! Status notifications (digest §6.2): the rows a notification touches. What it means, and
//! what Carat is answered, is the use-case layer's (`carat_core::callbacks::status`); each
//! function here is one statement, run inside the transaction the use case holds.

use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::StoreError;
use super::recharges::{Recharge, read_one, recharge_rows};

/// The recharge holding `nit`, locked until the transaction ends.
pub async fn lock_recharge_by_nit(
    conn: &mut PgConnection,
    nit: &str,
) -> Result<Option<Recharge>, StoreError> {
    let row = recharge_rows!("SELECT", "FROM recharges WHERE nit = $1 FOR UPDATE", nit)
        .fetch_optional(conn)
        .await?;
    Ok(read_one(row)?)
}

/// The payment's status as kept, locked: `None` when the recharge has no payment,
/// `Some(None)` when it has one whose status Carat never said.
pub async fn lock_payment_status(
    conn: &mut PgConnection,
    recharge_id: Uuid,
) -> Result<Option<Option<String>>, StoreError> {
    Ok(sqlx::query_scalar!(
        "SELECT status FROM recharge_payments WHERE recharge_id = $1 FOR UPDATE",
        recharge_id
    )
    .fetch_optional(conn)
    .await?)
}

/// The payment's status, as a notification said it.
pub async fn set_payment_status_notified(
    conn: &mut PgConnection,
    recharge_id: Uuid,
    status: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharge_payments SET status = $2, status_source = 'notification', \
         status_at = now(), updated_at = now() WHERE recharge_id = $1",
        recharge_id,
        status,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// One notification applied to a payment, as `payment_notifications` keeps it.
#[derive(Debug)]
pub struct PaymentNotification<'a> {
    pub callback_id: i64,
    pub recharge_id: Uuid,
    pub status: &'a str,
    pub previous_status: Option<&'a str>,
    pub advance: &'a str,
    pub follow_up: &'a str,
    pub detail: &'a Value,
}

pub async fn insert_payment_notification(
    conn: &mut PgConnection,
    row: &PaymentNotification<'_>,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO payment_notifications \
             (callback_id, recharge_id, status, previous_status, advance, follow_up, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        row.callback_id,
        row.recharge_id,
        row.status,
        row.previous_status,
        row.advance,
        row.follow_up,
        row.detail,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Asks the reconciler to query Carat about the recharge: at once when it is pending
/// confirmation (the flag makes it query before it applies the policy) or its call is over;
/// a call still out is queried once it is over (its deadline), not before.
pub async fn request_query(conn: &mut PgConnection, recharge_id: Uuid) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharges SET \
           query_requested_at = CASE WHEN status = 'pending_confirmation' \
                                     THEN now() ELSE query_requested_at END, \
           next_attempt_at = LEAST(next_attempt_at, CASE \
               WHEN status = 'pending_confirmation' OR outcome_unknown \
                    OR call_deadline IS NULL OR call_deadline <= now() THEN now() \
               ELSE call_deadline END) \
         WHERE id = $1 AND next_attempt_at IS NOT NULL",
        recharge_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A pending-confirmation recharge whose requested query was answered: the request is
/// cleared, and, if the query left it pending, the reconciler next looks at it when its
/// pending-confirmation timeout is due, as before the notification.
pub async fn query_request_answered(
    pool: &PgPool,
    id: Uuid,
    attempt: i64,
    pending_timeout_ms: i64,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharges SET query_requested_at = NULL, reconcile_attempts = 0, \
           next_attempt_at = CASE WHEN status = 'pending_confirmation' AND attempt = $2 \
               THEN GREATEST(now(), effectuated_at + $3::bigint * interval '1 millisecond') \
               ELSE next_attempt_at END \
         WHERE id = $1",
        id,
        attempt,
        pending_timeout_ms,
    )
    .execute(pool)
    .await?;
    Ok(())
}
