//! Carat's recharge tables as last listed, per general hash (`catalogue_cache`), and the
//! current general hash (`catalogue_version`). Only the current hash's entries exist: learning
//! a new hash deletes the old one's row, and the foreign key's cascade its entries, and is
//! announced to every instance (`shared_rows`).

use serde_json::Value;
use sqlx::PgPool;

use super::StoreError;
use super::listings::ListingKey;
use super::shared_rows::{SharedRow, announce};
use carat_domain::{GeneralHash, RechargeType};

/// Serialises hash changes, so that two answers carrying different hashes at once cannot leave
/// an entry under a hash that is not the current one. (An arbitrary constant: "catalogue".)
const VERSION_LOCK: i64 = 0x6361_7461_6c6f_6775;

/// A cached listing and the hash it was listed under.
#[derive(Debug)]
pub struct Cached {
    pub general_hash: GeneralHash,
    pub body: Value,
}

/// The current general hash, if any answer carried one yet.
pub async fn current_hash(pool: &PgPool) -> Result<Option<GeneralHash>, StoreError> {
    let hash = sqlx::query_scalar!("SELECT general_hash FROM catalogue_version")
        .fetch_optional(pool)
        .await?;
    // The column's CHECK is the type's format; a row that does not parse counts as none.
    Ok(hash.and_then(|h| GeneralHash::parse(&h).ok()))
}

/// Makes `hash` the current one; if it is new, every entry of the previous one is deleted.
pub async fn learn(pool: &PgPool, hash: &GeneralHash) -> Result<(), StoreError> {
    if current_hash(pool).await?.as_ref() == Some(hash) {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    replace_version(&mut tx, hash).await?;
    tx.commit().await?;
    Ok(())
}

/// The entry for `listing` of `recharge_type`, if one is cached under the current hash.
pub async fn find(
    pool: &PgPool,
    recharge_type: RechargeType,
    listing: &ListingKey,
) -> Result<Option<Cached>, StoreError> {
    let row = sqlx::query!(
        "SELECT general_hash, body FROM catalogue_cache WHERE recharge_type = $1 AND listing = $2",
        recharge_type.as_str(),
        listing.as_key(),
    )
    .fetch_optional(pool)
    .await?;
    // As for the current hash: the column's CHECK is the type's format; an entry whose hash
    // does not parse counts as none.
    Ok(row.and_then(|row| {
        let general_hash = GeneralHash::parse(row.general_hash).ok()?;
        Some(Cached {
            general_hash,
            body: row.body,
        })
    }))
}

/// Caches `body` as `listing` of `recharge_type` under `hash`, which becomes the current hash
/// (the answer that carried it is the latest word from Carat).
pub async fn keep(
    pool: &PgPool,
    recharge_type: RechargeType,
    listing: &ListingKey,
    hash: &GeneralHash,
    body: &Value,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    replace_version(&mut tx, hash).await?;
    sqlx::query!(
        "INSERT INTO catalogue_cache (recharge_type, listing, general_hash, body) \
         VALUES ($1, $2, $3, $4) \
         ON CONFLICT (recharge_type, listing) \
         DO UPDATE SET general_hash = $3, body = $4, cached_at = now()",
        recharge_type.as_str(),
        listing.as_key(),
        hash.as_str(),
        body,
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn replace_version(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    hash: &GeneralHash,
) -> Result<(), StoreError> {
    sqlx::query!("SELECT pg_advisory_xact_lock($1)", VERSION_LOCK)
        .execute(&mut **tx)
        .await?;
    sqlx::query!(
        "DELETE FROM catalogue_version WHERE general_hash <> $1",
        hash.as_str()
    )
    .execute(&mut **tx)
    .await?;
    let inserted = sqlx::query!(
        "INSERT INTO catalogue_version (general_hash) VALUES ($1) ON CONFLICT DO NOTHING",
        hash.as_str()
    )
    .execute(&mut **tx)
    .await?;
    // A new version: the copies other instances hold are of the old one.
    if inserted.rows_affected() > 0 {
        announce(tx, SharedRow::Catalogue).await?;
    }
    Ok(())
}
