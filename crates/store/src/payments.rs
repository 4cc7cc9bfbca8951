//! `recharge_payments`: the card payment linked to a recharge, one row per recharge. Written
//! only inside a recharge step's transaction (`recharges::apply`), so the payment's record moves
//! with the recharge's own and under the same guard. Never card data: BIN, last four, or the
//! stored card it was paid with.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::{PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::StoreError;
use carat_domain::payment::{CardSource, PaymentInput};

/// What a step writes about the payment.
#[derive(Clone, Debug)]
pub enum PaymentWrite {
    /// The effectuation goes out with this payment, or with none: a previous attempt's row
    /// (refused, so nothing was charged) is replaced or removed.
    Sent(Option<PaymentInput>),
    /// What Carat said of the payment, and in which answer.
    Answered(PaymentAnswered),
}

#[derive(Clone, Debug, Default)]
pub struct PaymentAnswered {
    /// Carat's 3-letter payment status; `None` keeps the stored one.
    pub status: Option<String>,
    /// 'effectuation', 'confirmation' or 'query'.
    pub source: &'static str,
    /// Merged into the stored answer.
    pub answer: Option<Value>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
}

pub(super) async fn write(
    tx: &mut Transaction<'_, Postgres>,
    recharge_id: Uuid,
    write: PaymentWrite,
) -> Result<(), StoreError> {
    match write {
        PaymentWrite::Sent(None) => {
            sqlx::query!(
                "DELETE FROM recharge_payments WHERE recharge_id = $1",
                recharge_id
            )
            .execute(&mut **tx)
            .await?;
        }
        PaymentWrite::Sent(Some(p)) => write_sent(tx, recharge_id, &p).await?,
        PaymentWrite::Answered(a) => write_answered(tx, recharge_id, a).await?,
    }
    Ok(())
}

/// The payment an effectuation goes out with, over a previous attempt's.
async fn write_sent(
    tx: &mut Transaction<'_, Postgres>,
    recharge_id: Uuid,
    p: &PaymentInput,
) -> Result<(), StoreError> {
    let (bin, last4, stored) = match &p.card {
        CardSource::Number { bin, last4 } => (Some(bin.to_string()), Some(last4.to_string()), None),
        CardSource::Token { .. } => (None, None, None),
        CardSource::StoredCard {
            stored_card_id,
            bin,
            last4,
        } => (
            bin.as_ref().map(ToString::to_string),
            last4.as_ref().map(ToString::to_string),
            Some(*stored_card_id),
        ),
    };
    sqlx::query!(
        "INSERT INTO recharge_payments (recharge_id, amount_cents, authorizer_id, \
            customer_id, installments, installment_type, card_source, stored_card_id, \
            card_bin, card_last4, extra_params) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (recharge_id) DO UPDATE SET \
            amount_cents = $2, authorizer_id = $3, customer_id = $4, installments = $5, \
            installment_type = $6, card_source = $7, stored_card_id = $8, card_bin = $9, \
            card_last4 = $10, extra_params = $11, status = NULL, status_source = NULL, \
            status_at = NULL, carat_answer = NULL, customer_receipt = NULL, \
            merchant_receipt = NULL, updated_at = now()",
        recharge_id,
        p.amount.get() as i64,
        p.authorizer_id.to_string(),
        p.customer_id.as_ref().map(ToString::to_string),
        i16::from(p.installment.number.get()),
        p.installment.kind.to_string(),
        p.card.name(),
        stored,
        bin,
        last4,
        serde_json::json!(p.extra_params),
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// What Carat said of the payment, over what was stored.
async fn write_answered(
    tx: &mut Transaction<'_, Postgres>,
    recharge_id: Uuid,
    a: PaymentAnswered,
) -> Result<(), StoreError> {
    sqlx::query!(
        "UPDATE recharge_payments SET \
            status = COALESCE($2, status), \
            status_source = CASE WHEN $2 IS NULL THEN status_source ELSE $3 END, \
            status_at = CASE WHEN $2 IS NULL THEN status_at ELSE now() END, \
            carat_answer = CASE WHEN $4::jsonb IS NULL THEN carat_answer \
                ELSE COALESCE(carat_answer, '{}'::jsonb) || $4 END, \
            customer_receipt = COALESCE($5, customer_receipt), \
            merchant_receipt = COALESCE($6, merchant_receipt), \
            updated_at = now() \
         WHERE recharge_id = $1",
        recharge_id,
        a.status,
        a.source,
        a.answer,
        a.customer_receipt,
        a.merchant_receipt,
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A recharge's payment as kept.
#[derive(Clone, Debug)]
pub struct PaymentRow {
    pub amount_cents: i64,
    pub authorizer_id: String,
    pub customer_id: Option<String>,
    pub installments: i16,
    pub installment_type: String,
    pub card_source: String,
    pub stored_card_id: Option<Uuid>,
    pub card_bin: Option<String>,
    pub card_last4: Option<String>,
    pub extra_params: Value,
    pub status: Option<String>,
    pub status_source: Option<String>,
    pub status_at: Option<DateTime<Utc>>,
    pub carat_answer: Option<Value>,
    pub customer_receipt: Option<String>,
    pub merchant_receipt: Option<String>,
}

pub async fn load(pool: &PgPool, recharge_id: Uuid) -> Result<Option<PaymentRow>, StoreError> {
    Ok(sqlx::query_as!(
        PaymentRow,
        "SELECT amount_cents, authorizer_id, customer_id, installments, installment_type, \
            card_source, stored_card_id, card_bin, card_last4, extra_params, status, \
            status_source, status_at, carat_answer, customer_receipt, merchant_receipt \
         FROM recharge_payments WHERE recharge_id = $1",
        recharge_id
    )
    .fetch_optional(pool)
    .await?)
}
