//! Idempotency keys: who holds a key while its request runs, and the answer it got once done.
//! A key is claimed with one statement (insert, or take over an expired or abandoned one), so
//! two requests with one key can never both run.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use super::StoreError;
use super::recharges::millis;

/// A key, as the API token whose scope it belongs to presented it.
#[derive(Clone, Debug)]
pub struct KeyRef<'a> {
    pub scope: &'a str,
    pub key: &'a str,
}

/// The answer kept for a key, replayed to a retry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    pub http_status: u16,
    pub content_type: Option<String>,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

/// What claiming a key found.
#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the key now, under this lease token.
    Acquired(Uuid),
    /// The same request already finished: its answer.
    Completed(StoredAnswer),
    /// The same request is still running elsewhere (its lease is live).
    InProgress,
    /// The key came with another request (another body, route or method).
    Mismatch,
}

struct Row {
    state: String,
    fingerprint: String,
    http_status: Option<i32>,
    content_type: Option<String>,
    location: Option<String>,
    body: Option<Vec<u8>>,
}

/// Claims `key` for the request whose fingerprint is `fingerprint`. A row older than `ttl` is
/// treated as absent, and an in-progress one whose lease has run out (its holder died) is taken
/// over by the same request; anything else is left alone and reported.
pub async fn claim(
    pool: &PgPool,
    key: &KeyRef<'_>,
    fingerprint: &str,
    lease: Duration,
    ttl: Duration,
) -> Result<Claim, StoreError> {
    // A row released between the insert and the read is claimed again; a few tries bound it.
    for _ in 0..3 {
        let token = Uuid::new_v4();
        let acquired = sqlx::query_scalar!(
            "INSERT INTO idempotency_keys (scope, key, fingerprint, state, lease_token, locked_until) \
             VALUES ($1, $2, $3, 'in_progress', $4, now() + $5::bigint * interval '1 millisecond') \
             ON CONFLICT (scope, key) DO UPDATE SET \
                 fingerprint = EXCLUDED.fingerprint, state = 'in_progress', \
                 lease_token = EXCLUDED.lease_token, locked_until = EXCLUDED.locked_until, \
                 http_status = NULL, content_type = NULL, location = NULL, body = NULL, \
                 created_at = now(), completed_at = NULL \
             WHERE idempotency_keys.created_at <= now() - $6::bigint * interval '1 millisecond' \
                OR (idempotency_keys.state = 'in_progress' \
                    AND idempotency_keys.locked_until <= now() \
                    AND idempotency_keys.fingerprint = EXCLUDED.fingerprint) \
             RETURNING lease_token AS \"lease_token!\"",
            key.scope,
            key.key,
            fingerprint,
            token,
            millis(lease),
            millis(ttl),
        )
        .fetch_optional(pool)
        .await?;
        if let Some(token) = acquired {
            return Ok(Claim::Acquired(token));
        }
        let row = sqlx::query_as!(
            Row,
            "SELECT state, fingerprint, http_status, content_type, location, body \
             FROM idempotency_keys WHERE scope = $1 AND key = $2",
            key.scope,
            key.key,
        )
        .fetch_optional(pool)
        .await?;
        let Some(row) = row else { continue };
        if row.fingerprint != fingerprint {
            return Ok(Claim::Mismatch);
        }
        return Ok(match (row.state.as_str(), row.http_status, row.body) {
            ("completed", Some(status), Some(body)) => Claim::Completed(StoredAnswer {
                http_status: u16::try_from(status).map_err(|e| StoreError::Other(decode(e)))?,
                content_type: row.content_type,
                location: row.location,
                body,
            }),
            _ => Claim::InProgress,
        });
    }
    Ok(Claim::InProgress)
}

/// Extends the lease of a key this request still holds; `false` if it was taken over.
pub async fn renew(
    pool: &PgPool,
    key: &KeyRef<'_>,
    token: Uuid,
    lease: Duration,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "UPDATE idempotency_keys SET locked_until = now() + $4::bigint * interval '1 millisecond' \
         WHERE scope = $1 AND key = $2 AND lease_token = $3 AND state = 'in_progress'",
        key.scope,
        key.key,
        token,
        millis(lease),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Keeps `answer` for the key this request holds; `false` if it was taken over meanwhile.
pub async fn complete(
    pool: &PgPool,
    key: &KeyRef<'_>,
    token: Uuid,
    answer: &StoredAnswer,
) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "UPDATE idempotency_keys SET state = 'completed', lease_token = NULL, \
             locked_until = NULL, http_status = $4, content_type = $5, location = $6, body = $7, \
             completed_at = now() \
         WHERE scope = $1 AND key = $2 AND lease_token = $3 AND state = 'in_progress'",
        key.scope,
        key.key,
        token,
        i32::from(answer.http_status),
        answer.content_type.as_deref(),
        answer.location.as_deref(),
        &answer.body,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Lets go of a key whose answer is not kept: the next request with it runs afresh.
pub async fn release(pool: &PgPool, key: &KeyRef<'_>, token: Uuid) -> Result<bool, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM idempotency_keys \
         WHERE scope = $1 AND key = $2 AND lease_token = $3 AND state = 'in_progress'",
        key.scope,
        key.key,
        token,
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Deletes the keys older than `ttl`, except one whose request is still running under a live
/// lease. Returns how many went.
pub async fn purge_expired(pool: &PgPool, ttl: Duration) -> Result<u64, StoreError> {
    let done = sqlx::query!(
        "DELETE FROM idempotency_keys \
         WHERE created_at <= now() - $1::bigint * interval '1 millisecond' \
           AND (state = 'completed' OR locked_until <= now())",
        millis(ttl),
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

fn decode(e: std::num::TryFromIntError) -> sqlx::Error {
    sqlx::Error::Decode(Box::new(e))
}
