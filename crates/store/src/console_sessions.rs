//! The console's sessions (`console_sessions`, migration 21): each kept by the SHA-256 of its
//! cookie's value, never the value itself. How long a session may idle is carat-core's to say.

use std::time::Duration;

use sqlx::PgPool;

use super::StoreError;
use super::codec::parse;
use super::recharges::millis;
use carat_domain::ConsoleRole;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    pub role: ConsoleRole,
    pub token_id: String,
}

/// Keeps a new session.
pub async fn insert(
    pool: &PgPool,
    id_hash: &[u8],
    role: ConsoleRole,
    token_id: &str,
) -> Result<(), StoreError> {
    sqlx::query!(
        "INSERT INTO console_sessions (id_hash, role, token_id) VALUES ($1, $2, $3)",
        id_hash,
        role.as_str(),
        token_id,
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// The session, its `last_seen` touched, if it was seen within `idle`; one seen longer ago is
/// deleted in the same statement and answers `None`.
pub async fn touch(
    pool: &PgPool,
    id_hash: &[u8],
    idle: Duration,
) -> Result<Option<SessionRow>, StoreError> {
    let row = sqlx::query!(
        "WITH stale AS ( \
            DELETE FROM console_sessions \
             WHERE id_hash = $1 AND last_seen <= now() - $2::bigint * interval '1 millisecond') \
         UPDATE console_sessions SET last_seen = now() \
          WHERE id_hash = $1 AND last_seen > now() - $2::bigint * interval '1 millisecond' \
          RETURNING role, token_id",
        id_hash,
        millis(idle),
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else { return Ok(None) };
    Ok(Some(SessionRow {
        role: parse("role", row.role)?,
        token_id: row.token_id,
    }))
}

pub async fn delete(pool: &PgPool, id_hash: &[u8]) -> Result<(), StoreError> {
    sqlx::query!("DELETE FROM console_sessions WHERE id_hash = $1", id_hash)
        .execute(pool)
        .await?;
    Ok(())
}

/// Deletes every session idle longer than `idle`; answers how many.
pub async fn delete_idle(pool: &PgPool, idle: Duration) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM console_sessions \
          WHERE last_seen <= now() - $1::bigint * interval '1 millisecond'",
        millis(idle),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
