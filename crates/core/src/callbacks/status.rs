//! A status notification (digest §6.2) applied: kept in the callback inbox and applied to its
//! recharge's payment in one transaction, and the answer Carat gets decided. The rule: the
//! payment's status moves only forward ([`payment_status::advance`]); a notification never
//! ends a recharge by itself, but one that contradicts it asks the reconciler to query Carat,
//! or, where no query can move it, is kept as a discrepancy for an operator.

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use carat_domain::payment_status::{self, Advance, FollowUp};
use carat_domain::{Actor, CaratStatus, RechargeStatus};
use carat_store::StoreError;
use carat_store::callbacks::{self, Outcome, Receipt, StoredCallback, Verdict};
use carat_store::notifications::{self as rows, PaymentNotification};
use carat_store::{EventKind, Recharge, append_event};
use carat_wire::callbacks::status::StatusNotification;

use super::CallbackService;

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
    /// What Carat is answered (and the inbox keeps). Only 200 stops Carat's retries.
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

impl CallbackService {
    /// Keeps `receipt` in the inbox, as `stored_body` (its receipts redacted:
    /// `carat_wire::callbacks::status::redact_body`), and applies `notification`, in one
    /// transaction; a POST already in the inbox changes nothing but its receipt count.
    pub async fn status(
        &self,
        notification: &StatusNotification,
        receipt: &Receipt,
        stored_body: &[u8],
    ) -> Result<Applied, StoreError> {
        apply(&self.pool, notification, receipt, stored_body).await
    }
}

async fn apply(
    pool: &PgPool,
    notification: &StatusNotification,
    receipt: &Receipt,
    stored_body: &[u8],
) -> Result<Applied, StoreError> {
    let mut tx = pool.begin().await?;
    let found = rows::lock_recharge_by_nit(&mut tx, notification.nit.as_str()).await?;
    let applied = match found {
        None => Applied::Unmatched,
        Some(recharge) if is_mismatch(notification, &recharge) => Applied::Mismatch(recharge.id),
        Some(recharge) => return apply_to(tx, notification, receipt, stored_body, recharge).await,
    };
    let recharge_id = match applied {
        Applied::Mismatch(id) => Some(id),
        _ => None,
    };
    let stored = callbacks::keep_as(
        &mut tx,
        receipt,
        &applied.verdict(),
        recharge_id,
        stored_body,
    )
    .await?;
    tx.commit().await?;
    Ok(if stored.first_receipt {
        applied
    } else {
        Applied::Replay(stored)
    })
}

/// The notification names another order id or merchant USN than the NIT's recharge.
fn is_mismatch(notification: &StatusNotification, recharge: &Recharge) -> bool {
    notification
        .order_id
        .as_ref()
        .is_some_and(|o| *o != recharge.order_id)
        || notification
            .merchant_usn
            .is_some_and(|u| u != recharge.merchant_usn.get())
}

/// The notification against its recharge (locked in `tx`): weighed, kept, and applied.
async fn apply_to(
    mut tx: sqlx::Transaction<'_, sqlx::Postgres>,
    notification: &StatusNotification,
    receipt: &Receipt,
    stored_body: &[u8],
    recharge: Recharge,
) -> Result<Applied, StoreError> {
    let payment = rows::lock_payment_status(&mut tx, recharge.id).await?;
    let previous = payment
        .as_ref()
        .and_then(|s| s.as_deref().map(CaratStatus::parse));
    let notified = notification.carat_status();
    let advance = payment
        .as_ref()
        .map(|_| payment_status::advance(previous.as_ref(), &notified));
    // Only news is weighed against the recharge: a late or repeated one says nothing new.
    let follow_up = match advance {
        Some(Advance::Same | Advance::Stale) => FollowUp::None,
        Some(Advance::Forward) | None => payment_status::follow_up(recharge.status, &notified),
    };
    let note = note(
        recharge.status,
        previous.as_ref(),
        &notified,
        advance,
        follow_up,
    );
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
    let effect = Effect {
        callback_id: stored.id,
        recharge: &recharge,
        previous: previous.as_ref(),
        notified: &notified,
        advance,
        follow_up,
    };
    record(&mut tx, notification, &effect).await?;
    tx.commit().await?;
    Ok(applied)
}

/// What a first receipt of a notification does to its recharge.
struct Effect<'a> {
    callback_id: i64,
    recharge: &'a Recharge,
    previous: Option<&'a CaratStatus>,
    notified: &'a CaratStatus,
    advance: Option<Advance>,
    follow_up: FollowUp,
}

/// Writes the effect: the payment's status when it moves forward, the notification's row,
/// the history, and what the follow-up asks for.
async fn record(
    conn: &mut sqlx::PgConnection,
    notification: &StatusNotification,
    e: &Effect<'_>,
) -> Result<(), StoreError> {
    let id = e.recharge.id;
    if e.advance == Some(Advance::Forward) {
        rows::set_payment_status_notified(conn, id, e.notified.as_str()).await?;
    }
    // Its receipts serialize as "[not kept]": a PIN sale's customer receipt holds the PIN.
    let detail = serde_json::to_value(notification).unwrap_or_default();
    let row = PaymentNotification {
        callback_id: e.callback_id,
        recharge_id: id,
        status: e.notified.as_str(),
        previous_status: e.previous.map(CaratStatus::as_str),
        advance: advance_str(e.advance),
        follow_up: e.follow_up.as_str(),
        detail: &detail,
    };
    rows::insert_payment_notification(conn, &row).await?;
    let event = json!({
        "callback_id": e.callback_id,
        "status": e.notified.as_str(),
        "previous_payment_status": e.previous.map(CaratStatus::as_str),
        "advance": advance_str(e.advance),
        "follow_up": e.follow_up.as_str(),
        "recharge_status": e.recharge.status,
        "notification": detail,
    });
    let event_name = "status_notification";
    append_event(
        conn,
        id,
        EventKind::Callback,
        event_name,
        &Actor::Carat,
        event,
    )
    .await?;
    let follow_up_event = match e.follow_up {
        FollowUp::None => return Ok(()),
        FollowUp::Query => {
            rows::request_query(conn, id).await?;
            "query_requested"
        }
        FollowUp::Discrepancy => "payment_discrepancy",
    };
    let detail = json!({"callback_id": e.callback_id, "payment_status": e.notified.as_str(),
                        "recharge_status": e.recharge.status});
    append_event(
        conn,
        id,
        EventKind::Callback,
        follow_up_event,
        &Actor::Carat,
        detail,
    )
    .await
}

/// The inbox row's reason for a kept notification: why it changed nothing, or what it calls
/// for. `None` for one that simply moved the payment forward.
fn note(
    status: RechargeStatus,
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
