//! Status notifications (digest §6.2): kept in the inbox and applied to their recharge's payment
//! in one transaction. See `callbacks::status` for what is answered.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use super::callbacks::{self, Outcome, Receipt, StoredCallback, Verdict};
use super::recharges::{EventKind, Recharge, append_event};
use crate::callbacks::status::StatusNotification;
use crate::domain::payment_status::{self, Advance, FollowUp};
use crate::domain::{Actor, CaratStatus, RechargeStatus};

/// What a status notification found and did.
#[derive(Debug)]
pub enum Applied {
    /// The same POST was received before: this is what was answered then.
    Replay(StoredCallback),
    /// No recharge of ours holds this NIT: kept as unmatched, answered 200.
    Unmatched,
    /// The NIT's recharge has another order id or merchant USN: refused, kept against it.
    Mismatch(Uuid),
    /// Kept against its recharge. `advance` is `None` when the recharge has no payment.
    Kept {
        recharge_id: Uuid,
        advance: Option<Advance>,
        follow_up: FollowUp,
        /// Why it changed nothing, or what it calls for; kept as the inbox row's reason.
        note: Option<String>,
    },
}

impl Applied {
    pub fn verdict(&self) -> Verdict {
        match self {
            Self::Replay(stored) => Verdict {
                outcome: Outcome::Accepted,
                http_status: stored.http_status as u16,
                reason: stored.reason.clone(),
            },
            Self::Unmatched => Verdict {
                outcome: Outcome::Unmatched,
                // 200 all the same: Carat would retry a NIT we will never know.
                http_status: 200,
                reason: Some("no recharge of this store holds this NIT".to_owned()),
            },
            Self::Mismatch(_) => Verdict {
                outcome: Outcome::Refused,
                http_status: 409,
                reason: Some(
                    "pedido/nsu: not the order id and merchant USN of the recharge holding this NIT"
                        .to_owned(),
                ),
            },
            Self::Kept { note, .. } => Verdict {
                outcome: Outcome::Accepted,
                http_status: 200,
                reason: note.clone(),
            },
        }
    }
}

pub fn advance_str(advance: Option<Advance>) -> &'static str {
    advance.map_or("no_payment", Advance::as_str)
}

/// Keeps `receipt` in the inbox, as `stored_body` (its receipts redacted:
/// `callbacks::status::redact_body`), and applies `notification`, in one transaction; a POST
/// already in the inbox changes nothing but its receipt count.
pub async fn apply(
    pool: &PgPool,
    notification: &StatusNotification,
    receipt: &Receipt,
    stored_body: &[u8],
) -> Result<Applied, StoreError> {
    let mut tx = pool.begin().await?;
    let found: Option<Recharge> =
        sqlx::query_as("SELECT * FROM recharges WHERE nit = $1 FOR UPDATE")
            .bind(notification.nit.as_str())
            .fetch_optional(&mut *tx)
            .await?;
    let Some(recharge) = found else {
        let applied = Applied::Unmatched;
        let stored =
            callbacks::keep_as(&mut tx, receipt, &applied.verdict(), None, stored_body).await?;
        tx.commit().await?;
        return Ok(if stored.first_receipt {
            applied
        } else {
            Applied::Replay(stored)
        });
    };
    let mismatch = notification
        .order_id
        .as_ref()
        .is_some_and(|o| *o != recharge.order_id)
        || notification
            .merchant_usn
            .is_some_and(|u| u != recharge.merchant_usn as u64);
    if mismatch {
        let applied = Applied::Mismatch(recharge.id);
        let stored = callbacks::keep_as(
            &mut tx,
            receipt,
            &applied.verdict(),
            Some(recharge.id),
            stored_body,
        )
        .await?;
        tx.commit().await?;
        return Ok(if stored.first_receipt {
            applied
        } else {
            Applied::Replay(stored)
        });
    }

    let payment: Option<(Option<String>,)> =
        sqlx::query_as("SELECT status FROM recharge_payments WHERE recharge_id = $1 FOR UPDATE")
            .bind(recharge.id)
            .fetch_optional(&mut *tx)
            .await?;
    let previous = payment
        .as_ref()
        .and_then(|(s,)| s.as_deref().map(CaratStatus::parse));
    let notified = notification.carat_status();
    let advance = payment
        .as_ref()
        .map(|_| payment_status::advance(previous.as_ref(), &notified));
    // Only news is weighed against the recharge: a late or repeated one says nothing new.
    let follow_up = match advance {
        Some(Advance::Same | Advance::Stale) => FollowUp::None,
        Some(Advance::Forward) | None => payment_status::follow_up(recharge.status, &notified),
    };
    let note = note(&recharge, previous.as_ref(), &notified, advance, follow_up);
    let applied = Applied::Kept {
        recharge_id: recharge.id,
        advance,
        follow_up,
        note,
    };
    let stored = callbacks::keep_as(
        &mut tx,
        receipt,
        &applied.verdict(),
        Some(recharge.id),
        stored_body,
    )
    .await?;
    if !stored.first_receipt {
        tx.commit().await?;
        return Ok(Applied::Replay(stored));
    }

    if advance == Some(Advance::Forward) {
        sqlx::query(
            "UPDATE recharge_payments SET status = $2, status_source = 'notification', \
             status_at = now(), updated_at = now() WHERE recharge_id = $1",
        )
        .bind(recharge.id)
        .bind(notified.as_str())
        .execute(&mut *tx)
        .await?;
    }
    // Its receipts serialize as "[not kept]": a PIN sale's customer receipt holds the PIN.
    let detail = serde_json::to_value(notification).unwrap_or_default();
    sqlx::query(
        "INSERT INTO payment_notifications \
             (callback_id, recharge_id, status, previous_status, advance, follow_up, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(stored.id)
    .bind(recharge.id)
    .bind(notified.as_str())
    .bind(previous.as_ref().map(CaratStatus::as_str))
    .bind(advance_str(advance))
    .bind(follow_up.as_str())
    .bind(&detail)
    .execute(&mut *tx)
    .await?;
    let event = json!({
        "callback_id": stored.id,
        "status": notified.as_str(),
        "previous_payment_status": previous.as_ref().map(CaratStatus::as_str),
        "advance": advance_str(advance),
        "follow_up": follow_up.as_str(),
        "recharge_status": recharge.status,
        "notification": detail,
    });
    append_event(
        &mut tx,
        recharge.id,
        EventKind::Callback,
        "status_notification",
        &Actor::Carat,
        event,
    )
    .await?;
    match follow_up {
        FollowUp::None => {}
        FollowUp::Query => {
            // Pending confirmation: the flag makes the reconciler query before it applies the
            // policy. A call still out: queried once it is over (its deadline), not before.
            sqlx::query(
                "UPDATE recharges SET \
                   query_requested_at = CASE WHEN status = 'pending_confirmation' \
                                             THEN now() ELSE query_requested_at END, \
                   next_attempt_at = LEAST(next_attempt_at, CASE \
                       WHEN status = 'pending_confirmation' OR outcome_unknown \
                            OR call_deadline IS NULL OR call_deadline <= now() THEN now() \
                       ELSE call_deadline END) \
                 WHERE id = $1 AND next_attempt_at IS NOT NULL",
            )
            .bind(recharge.id)
            .execute(&mut *tx)
            .await?;
            append_event(
                &mut tx,
                recharge.id,
                EventKind::Callback,
                "query_requested",
                &Actor::Carat,
                json!({"callback_id": stored.id, "payment_status": notified.as_str(),
                       "recharge_status": recharge.status}),
            )
            .await?;
        }
        FollowUp::Discrepancy => {
            append_event(
                &mut tx,
                recharge.id,
                EventKind::Callback,
                "payment_discrepancy",
                &Actor::Carat,
                json!({"callback_id": stored.id, "payment_status": notified.as_str(),
                       "recharge_status": recharge.status}),
            )
            .await?;
        }
    }
    tx.commit().await?;
    Ok(applied)
}

/// The inbox row's reason for a kept notification: why it changed nothing, or what it calls
/// for. `None` for one that simply moved the payment forward.
fn note(
    recharge: &Recharge,
    previous: Option<&CaratStatus>,
    notified: &CaratStatus,
    advance: Option<Advance>,
    follow_up: FollowUp,
) -> Option<String> {
    let prev = previous.map_or("none", CaratStatus::as_str);
    let first = match advance {
        None => Some("no payment of this recharge to apply it to".to_owned()),
        Some(Advance::Same) => Some(format!("repeat: the payment is already {notified}")),
        Some(Advance::Stale) => Some(format!(
            "stale: the payment is already {prev}, past {notified}; nothing changed"
        )),
        Some(Advance::Forward) => None,
    };
    let status: RechargeStatus = recharge.status;
    let second = match follow_up {
        FollowUp::None => None,
        FollowUp::Query => Some(format!(
            "contradicts the recharge ({status}): the reconciler queries Carat"
        )),
        FollowUp::Discrepancy => Some(format!(
            "discrepancy: contradicts the recharge ({status}), which no query can move"
        )),
    };
    match (first, second) {
        (Some(a), Some(b)) => Some(format!("{a}; {b}")),
        (a, b) => a.or(b),
    }
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
    sqlx::query(
        "UPDATE recharges SET query_requested_at = NULL, reconcile_attempts = 0, \
           next_attempt_at = CASE WHEN status = 'pending_confirmation' AND attempt = $2 \
               THEN GREATEST(now(), effectuated_at + $3 * interval '1 millisecond') \
               ELSE next_attempt_at END \
         WHERE id = $1",
    )
    .bind(id)
    .bind(attempt)
    .bind(pending_timeout_ms)
    .execute(pool)
    .await?;
    Ok(())
}
