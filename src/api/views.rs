//! What the storefront sees of a recharge.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{RechargeStatus, RechargeType};
use crate::store::{Event, Recharge};

#[derive(Debug, Serialize)]
pub struct RechargeView {
    pub id: Uuid,
    pub recharge_type: RechargeType,
    pub order_id: String,
    /// A string, as on Carat's wire: it is an identifier, not a quantity.
    pub merchant_usn: String,
    pub nit: Option<String>,
    pub status: RechargeStatus,
    /// Carat's last 3-letter status (NOV, PPC, CON...).
    pub carat_status: Option<String>,
    /// A money-moving call is out, or its outcome is not known yet (`effectuating`,
    /// `confirming`, `undoing`): the reconciler, or repeating the same step, resolves it by
    /// querying Carat; it is never sent twice.
    pub in_doubt: bool,
    /// In doubt and nobody is waiting on the call any more (its answer was lost, or the
    /// instance that sent it died): only a query to Carat can tell what happened.
    pub outcome_unknown: bool,
    /// How many money-moving calls went out for this recharge.
    pub attempt: i64,
    /// Where the reconciler stands with this recharge, while it is open.
    pub reconciliation: Option<ReconciliationView>,
    pub effectuation: Option<EffectuationView>,
    pub esitef_usn: Option<String>,
    pub authorization: Option<serde_json::Value>,
    pub receipts: Option<ReceiptsView>,
    pub last_error: Option<LastErrorView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
}

#[derive(Debug, Serialize)]
pub struct EffectuationView {
    pub dealer: DealerView,
    pub phone: PhoneView,
    /// Integer cents.
    pub amount: i64,
    pub amount_key: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DealerView {
    pub code: String,
    pub type_code: String,
}

#[derive(Debug, Serialize)]
pub struct PhoneView {
    pub ddd: String,
    pub number: String,
}

#[derive(Debug, Serialize)]
pub struct ReceiptsView {
    pub customer: Option<String>,
    pub merchant: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ReconciliationView {
    /// When the reconciler looks at it next if nothing else moves it.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// Its attempts in a row that moved nothing (Carat unreachable...); the delay to the next
    /// one doubles with each, up to `RECONCILE_MAX_BACKOFF_SECS`.
    pub attempts: i32,
    /// Why the last of those moved nothing.
    pub last_error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct LastErrorView {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl RechargeView {
    pub fn new(r: Recharge, events: Option<Vec<Event>>) -> Self {
        let effectuation = match (
            &r.dealer_code,
            &r.dealer_type_code,
            &r.phone_ddd,
            &r.phone_number,
            r.amount_cents,
        ) {
            (Some(code), Some(type_code), Some(ddd), Some(number), Some(amount)) => {
                Some(EffectuationView {
                    dealer: DealerView {
                        code: code.clone(),
                        type_code: type_code.clone(),
                    },
                    phone: PhoneView {
                        ddd: ddd.clone(),
                        number: number.clone(),
                    },
                    amount,
                    amount_key: r.amount_key.clone(),
                })
            }
            _ => None,
        };
        let receipts =
            (r.customer_receipt.is_some() || r.merchant_receipt.is_some()).then(|| ReceiptsView {
                customer: r.customer_receipt.clone(),
                merchant: r.merchant_receipt.clone(),
            });
        let last_error =
            (r.last_error_code.is_some() || r.last_error_message.is_some()).then(|| {
                LastErrorView {
                    code: r.last_error_code.clone(),
                    message: r.last_error_message.clone(),
                }
            });
        let now = Utc::now();
        let reconciliation = (!r.status.is_final()).then(|| ReconciliationView {
            next_attempt_at: r.next_attempt_at,
            attempts: r.reconcile_attempts,
            last_error: r.reconcile_error.clone(),
        });
        Self {
            in_doubt: r.status.is_in_doubt(),
            outcome_unknown: r.outcome_unknown_at(now),
            attempt: r.attempt,
            reconciliation,
            id: r.id,
            recharge_type: r.recharge_type,
            order_id: r.order_id.to_string(),
            merchant_usn: r.merchant_usn().to_string(),
            nit: r.nit.as_ref().map(ToString::to_string),
            status: r.status,
            carat_status: r.carat_status,
            effectuation,
            esitef_usn: r.esitef_usn,
            authorization: r.authorization_data,
            receipts,
            last_error,
            created_at: r.created_at,
            updated_at: r.updated_at,
            events,
        }
    }
}
