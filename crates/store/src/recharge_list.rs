//! The operators' listing of recharges (`GET /api/v1/recharges`): newest first, by the key
//! `(created_at, id)`, a page after a cursor. Served by the index of migration 20.

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::recharges::{read_all, recharge_rows};
use super::{Recharge, StoreError};
use carat_domain::RechargeStatus;

/// Where a page starts: strictly after (older than) this row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    pub created_at: DateTime<Utc>,
    pub id: Uuid,
}

/// Which recharges a listing shows; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Any of these statuses (the `in_doubt` filter is folded in by the caller).
    pub statuses: Option<Vec<RechargeStatus>>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_to: Option<DateTime<Utc>>,
    pub order_id: Option<String>,
    pub nit: Option<String>,
}

/// One page: at most `limit` rows after `after`, newest first. One static statement: every
/// filter is a parameter, NULL when unused (no SQL is built from input). The bounds on
/// `created_at` and the key are always there (open ones are infinite), so even a generic plan
/// of the prepared statement walks `recharges_by_created` instead of scanning and sorting.
pub async fn list(
    pool: &PgPool,
    filter: &Filter,
    after: Option<Key>,
    limit: i64,
) -> Result<Vec<Recharge>, StoreError> {
    let statuses: Option<Vec<&str>> = filter
        .statuses
        .as_ref()
        .map(|s| s.iter().map(|s| s.as_str()).collect());
    let rows = recharge_rows!(
        "SELECT",
        "FROM recharges \
          WHERE ($1::text[] IS NULL OR status = ANY($1)) \
            AND created_at >= COALESCE($2::timestamptz, '-infinity') \
            AND created_at < COALESCE($3::timestamptz, 'infinity') \
            AND ($4::text IS NULL OR order_id = $4) \
            AND ($5::text IS NULL OR nit = $5) \
            AND (created_at, id) < (COALESCE($6::timestamptz, 'infinity'), \
                                    COALESCE($7::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
          ORDER BY created_at DESC, id DESC \
          LIMIT $8",
        // `as _`: the macro's check takes text[] as `[String]` only, not `[&str]`.
        statuses.as_deref() as _,
        filter.created_from,
        filter.created_to,
        filter.order_id.as_deref(),
        filter.nit.as_deref(),
        after.map(|k| k.created_at),
        after.map(|k| k.id),
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(read_all(rows)?)
}
