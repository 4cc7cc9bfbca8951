//! What Carat listed for a recharge (dealers, branch data), kept so that an effectuation can
//! be checked against it without asking again.

use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;

/// Keeps `body` as the recharge's latest `listing` (a later listing replaces an earlier one:
/// it is what Carat offers now).
pub async fn save(
    pool: &PgPool,
    recharge_id: Uuid,
    listing: &str,
    body: &Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO recharge_listings (recharge_id, listing, body) VALUES ($1, $2, $3) \
         ON CONFLICT (recharge_id, listing) DO UPDATE SET body = $3, listed_at = now()",
    )
    .bind(recharge_id)
    .bind(listing)
    .bind(body)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn find(
    pool: &PgPool,
    recharge_id: Uuid,
    listing: &str,
) -> Result<Option<Value>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT body FROM recharge_listings WHERE recharge_id = $1 AND listing = $2",
    )
    .bind(recharge_id)
    .bind(listing)
    .fetch_optional(pool)
    .await?)
}
