//! What Carat announced to this merchant about `used_payment_methods` (one row, migration 14).

use sqlx::PgPool;

use super::StoreError;
use super::shared_rows::{CHANNEL, SharedRow};

/// The merchant-wide state: the last `payment_methods.max`, and whether Carat asked for the
/// payment methods on the next transaction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Announced {
    /// `None`: Carat never announced a max.
    pub max: Option<usize>,
    pub send_requested: bool,
}

pub async fn announced(pool: &PgPool) -> Result<Announced, StoreError> {
    let row = sqlx::query!("SELECT max_entries, send_requested FROM merchant_payment_methods")
        .fetch_one(pool)
        .await?;
    Ok(Announced {
        max: row.max_entries.and_then(|m| usize::try_from(m).ok()),
        send_requested: row.send_requested,
    })
}

/// An effectuation answer's announcements: a max it carried replaces the kept one; its
/// `send_payment_methods: true` is remembered (a `false` or none leaves the flag as it is: only
/// an effectuation carrying the list clears it). A change is announced (`shared_rows`); the
/// same values again write nothing.
pub async fn take_answer(
    pool: &PgPool,
    max: Option<u32>,
    send_requested: bool,
) -> Result<(), StoreError> {
    if max.is_none() && !send_requested {
        return Ok(());
    }
    let max = max.map(|m| i32::try_from(m).unwrap_or(i32::MAX));
    sqlx::query!(
        "WITH changed AS ( \
            UPDATE merchant_payment_methods SET \
                max_entries = COALESCE($1, max_entries), \
                send_requested = send_requested OR $2, \
                updated_at = now() \
            WHERE max_entries IS DISTINCT FROM COALESCE($1, max_entries) \
               OR (NOT send_requested AND $2) \
            RETURNING 1) \
         SELECT pg_notify($3, $4) FROM changed",
        max,
        send_requested,
        CHANNEL,
        SharedRow::PaymentMethods.as_str(),
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// An effectuation carrying the list went out: Carat's request is answered.
pub async fn clear_request(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query!(
        "WITH changed AS ( \
            UPDATE merchant_payment_methods SET send_requested = false, updated_at = now() \
            WHERE send_requested RETURNING 1) \
         SELECT pg_notify($1, $2) FROM changed",
        CHANNEL,
        SharedRow::PaymentMethods.as_str(),
    )
    .execute(pool)
    .await?;
    Ok(())
}
