//! What the storefront sees of a recharge.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use carat_core::recharge::{PinReceipt, Receipts, pin_receipt_state};
use carat_domain::effectuation::{BranchDealer, Dealer, Invoice, Phone};
use carat_domain::{
    AmountKey, Effectuation, EffectuationInput, RechargeStatus, RechargeType, UsedPaymentMethod,
};
use carat_store::payments::PaymentRow;
use carat_store::{Event, Recharge};

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
    /// The TV packages Carat offered (`awaiting_choice`): choose one with
    /// `POST .../effectuate {"tv_package": <code>}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tv_package_subscription_codes: Option<Vec<String>>,
    /// The `used_payment_methods` the effectuation carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub used_payment_methods: Option<Vec<UsedPaymentMethod>>,
    /// The `used_payment_methods` the confirmation carried (kept for its resend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_payment_methods: Option<Vec<UsedPaymentMethod>>,
    /// `payment_methods.max` from this recharge's effectuation answer: the confirmation may
    /// carry at most this many `used_payment_methods`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_methods_max: Option<u32>,
    /// `true` when this recharge's effectuation answer asked for the payment methods on the
    /// merchant's next transaction (`send_payment_methods`): the next effectuation must carry
    /// `sale.used_payment_methods`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_payment_methods: Option<bool>,
    /// Shown by `GET /api/v1/recharges/{id}`; a PIN sale's (which carry its PIN) only there.
    pub receipts: Option<Receipts>,
    /// A PIN sale's receipt: `kept` (encrypted; `GET` shows it), `not_kept` (the sale is
    /// undone), `unreadable`. Absent for other kinds and before Carat effectuated the sale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_receipt: Option<PinReceipt>,
    pub last_error: Option<LastErrorView>,
    /// The card payment linked to the recharge, if the effectuation carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentView>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<Event>>,
}

/// What was effectuated, shaped per kind: the storefront's own body, as it sent it.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum EffectuationView {
    Normal {
        dealer: Dealer,
        phone: Phone,
        /// Integer cents.
        amount: u64,
        amount_key: Option<AmountKey>,
    },
    Others {
        dealer: BranchDealer,
        /// Integer cents.
        amount: u64,
        amount_key: Option<AmountKey>,
    },
    Invoice {
        dealer: Dealer,
        invoice: Invoice,
        /// Integer cents.
        amount: u64,
    },
}

impl EffectuationView {
    fn new(effectuation: &Effectuation) -> Self {
        match effectuation.input.clone() {
            EffectuationInput::Normal {
                dealer,
                phone,
                amount,
                amount_key,
                ..
            } => Self::Normal {
                dealer,
                phone,
                amount: amount.get(),
                amount_key,
            },
            EffectuationInput::Others {
                dealer,
                amount,
                amount_key,
                ..
            } => Self::Others {
                dealer,
                amount: amount.get(),
                amount_key,
            },
            EffectuationInput::Invoice {
                dealer,
                invoice,
                amount,
            } => Self::Invoice {
                dealer,
                invoice,
                amount: amount.get(),
            },
        }
    }
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

/// A recharge's card payment: Carat's status for it (it can differ from the recharge's),
/// never a card number, security code or token.
#[derive(Debug, Serialize)]
pub struct PaymentView {
    /// Carat's 3-letter payment status (PPC, CON, NEG, PPN...), once Carat said it.
    pub status: Option<String>,
    /// Which answer said it: `effectuation`, `confirmation`, `query` or `notification`.
    pub status_source: Option<String>,
    /// Integer cents.
    pub amount: i64,
    pub authorizer_id: String,
    pub customer_id: Option<String>,
    pub installment: InstallmentView,
    pub card: CardView,
    pub authorization: Option<serde_json::Value>,
    pub analysis: Option<serde_json::Value>,
    pub esitef: Option<serde_json::Value>,
    pub acquirer: Option<serde_json::Value>,
    #[serde(rename = "type")]
    pub kind: Option<serde_json::Value>,
    pub receipts: Option<Receipts>,
    pub extra_param: serde_json::Value,
}

#[derive(Debug, Serialize)]
pub struct InstallmentView {
    pub number: i16,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Serialize)]
pub struct CardView {
    /// `number`, `token` or `stored_card`.
    pub source: String,
    pub bin: Option<String>,
    pub last4: Option<String>,
    pub stored_card_id: Option<Uuid>,
}

impl PaymentView {
    pub fn new(p: PaymentRow) -> Self {
        let answer = p.carat_answer.unwrap_or_default();
        let part = |name: &str| answer.get(name).cloned();
        let receipts =
            (p.customer_receipt.is_some() || p.merchant_receipt.is_some()).then_some(Receipts {
                customer: p.customer_receipt,
                merchant: p.merchant_receipt,
            });
        Self {
            status: p.status,
            status_source: p.status_source,
            amount: p.amount_cents,
            authorizer_id: p.authorizer_id,
            customer_id: p.customer_id,
            installment: InstallmentView {
                number: p.installments,
                kind: p.installment_type,
            },
            card: CardView {
                source: p.card_source,
                bin: p.card_bin,
                last4: p.card_last4,
                stored_card_id: p.stored_card_id,
            },
            authorization: part("authorization"),
            analysis: part("analysis"),
            esitef: part("esitef"),
            acquirer: part("acquirer"),
            kind: part("type"),
            receipts,
            extra_param: p.extra_params,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LastErrorView {
    pub code: Option<String>,
    pub message: Option<String>,
}

impl RechargeView {
    pub fn new(r: Recharge, events: Option<Vec<Event>>) -> Self {
        let effectuation = r.effectuation().map(EffectuationView::new);
        let answer = r.carat_answer().cloned().unwrap_or_default();
        let used_payment_methods = r
            .effectuation()
            .and_then(|e| e.optional.used_payment_methods.clone());
        // Built by the codec, so read back losslessly.
        let confirmation_payment_methods = r.decision_payment_methods.as_ref().map(|m| {
            m.0.iter()
                .filter_map(|w| UsedPaymentMethod::from_wire(w).ok())
                .collect()
        });
        // The clear columns: a PIN sale's receipts are never there.
        let receipts =
            (r.customer_receipt.is_some() || r.merchant_receipt.is_some()).then(|| Receipts {
                customer: r.customer_receipt.clone(),
                merchant: r.merchant_receipt.clone(),
            });
        let pin_receipt = pin_receipt_state(&r);
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
            merchant_usn: r.merchant_usn.to_string(),
            nit: r.nit.as_ref().map(ToString::to_string),
            status: r.status,
            carat_status: r.carat_status.map(|s| s.as_str().to_owned()),
            effectuation,
            esitef_usn: answer.esitef_usn,
            authorization: answer.authorization,
            tv_package_subscription_codes: answer.tv_package_subscription_codes,
            used_payment_methods,
            confirmation_payment_methods,
            payment_methods_max: answer.payment_methods_max,
            send_payment_methods: answer.send_payment_methods,
            receipts,
            pin_receipt,
            last_error,
            payment: None,
            created_at: r.created_at,
            updated_at: r.updated_at,
            events,
        }
    }
}
