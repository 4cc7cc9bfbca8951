//! The operator console's reads: counts for its overview, and recharges by search or queue.
//! Which recharges a queue holds is carat-core's to say (`carat_core::console`): here each
//! filter is a parameter, NULL when unused, of one static statement.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use super::callbacks::Outcome;
use super::codec::parse;
use super::recharge_list::Key;
use super::recharges::{millis, read_all, recharge_rows};
use super::{Recharge, StoreError};
use carat_domain::card_status::CardStatus;
use carat_domain::{RechargeStatus, RechargeType};

/// Which recharges a console listing or count takes; `None` means any.
#[derive(Clone, Debug, Default)]
pub struct RechargeFilter {
    /// Any of these statuses.
    pub statuses: Option<Vec<RechargeStatus>>,
    /// Any of these kinds.
    pub kinds: Option<Vec<RechargeType>>,
    /// In any of these statuses, or with its outcome unknown whatever its status.
    pub status_or_outcome_unknown: Option<Vec<RechargeStatus>>,
    /// Effectuated at or before this instant.
    pub effectuated_by: Option<DateTime<Utc>>,
    pub created_from: Option<DateTime<Utc>>,
    /// Exclusive.
    pub created_to: Option<DateTime<Utc>>,
    /// Names the recharge by any one of its identifiers.
    pub names: Option<Names>,
}

/// The identifiers a searched text may be: the recharge is taken if any one matches.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// Compared with the order id, the NIT and Carat's (e-SiTef) USN as it is.
    pub text: String,
    pub id: Option<Uuid>,
    pub merchant_usn: Option<i64>,
    /// The phone a top-up went to: its number, and its DDD when given.
    pub phone_number: Option<String>,
    pub phone_ddd: Option<String>,
}

/// As strings, as the statement binds them.
fn texts<T: Copy>(values: &Option<Vec<T>>, text: fn(T) -> &'static str) -> Option<Vec<String>> {
    values
        .as_ref()
        .map(|v| v.iter().map(|&x| text(x).to_owned()).collect())
}

/// One page of recharges matching `filter`: at most `limit` after `after`, newest first by
/// `(created_at, id)`.
pub async fn recharges(
    pool: &PgPool,
    filter: &RechargeFilter,
    after: Option<Key>,
    limit: i64,
) -> Result<Vec<Recharge>, StoreError> {
    let statuses = texts(&filter.statuses, RechargeStatus::as_str);
    let kinds = texts(&filter.kinds, RechargeType::as_str);
    let doubt = texts(&filter.status_or_outcome_unknown, RechargeStatus::as_str);
    let names = filter.names.clone().unwrap_or_default();
    let rows = recharge_rows!(
        "SELECT",
        "FROM recharges \
          WHERE ($1::text[] IS NULL OR status = ANY($1)) \
            AND ($2::text[] IS NULL OR recharge_type = ANY($2)) \
            AND ($3::text[] IS NULL OR status = ANY($3) OR outcome_unknown) \
            AND ($4::timestamptz IS NULL OR effectuated_at <= $4) \
            AND created_at >= COALESCE($5::timestamptz, '-infinity') \
            AND created_at < COALESCE($6::timestamptz, 'infinity') \
            AND ($7::boolean IS NOT TRUE \
                 OR id = $8 OR order_id = $9 OR nit = $9 OR merchant_usn = $10 \
                 OR carat_answer ->> 'esitef_usn' = $9 \
                 OR (effectuation -> 'phone' ->> 'number' = $11 \
                     AND ($12::text IS NULL OR effectuation -> 'phone' ->> 'ddd' = $12))) \
            AND (created_at, id) < (COALESCE($13::timestamptz, 'infinity'), \
                                    COALESCE($14::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff')) \
          ORDER BY created_at DESC, id DESC \
          LIMIT $15",
        // `as _`: the macro's check takes text[] as `[String]`.
        statuses.as_deref() as _,
        kinds.as_deref() as _,
        doubt.as_deref() as _,
        filter.effectuated_by,
        filter.created_from,
        filter.created_to,
        filter.names.is_some(),
        names.id,
        names.text,
        names.merchant_usn,
        names.phone_number,
        names.phone_ddd,
        after.map(|k| k.created_at),
        after.map(|k| k.id),
        limit,
    )
    .fetch_all(pool)
    .await?;
    Ok(read_all(rows)?)
}

/// How many recharges match `filter` (its `names` are not used by counts).
pub async fn count_recharges(pool: &PgPool, filter: &RechargeFilter) -> Result<i64, StoreError> {
    let statuses = texts(&filter.statuses, RechargeStatus::as_str);
    let kinds = texts(&filter.kinds, RechargeType::as_str);
    let doubt = texts(&filter.status_or_outcome_unknown, RechargeStatus::as_str);
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM recharges
            WHERE ($1::text[] IS NULL OR status = ANY($1))
              AND ($2::text[] IS NULL OR recharge_type = ANY($2))
              AND ($3::text[] IS NULL OR status = ANY($3) OR outcome_unknown)
              AND ($4::timestamptz IS NULL OR effectuated_at <= $4)
              AND created_at >= COALESCE($5::timestamptz, '-infinity')
              AND created_at < COALESCE($6::timestamptz, 'infinity')"#,
        statuses.as_deref() as _,
        kinds.as_deref() as _,
        doubt.as_deref() as _,
        filter.effectuated_by,
        filter.created_from,
        filter.created_to,
    )
    .fetch_one(pool)
    .await?)
}

/// Recharges created since `since`, counted by kind and status.
pub async fn counts_by_kind_and_status(
    pool: &PgPool,
    since: DateTime<Utc>,
) -> Result<Vec<(RechargeType, RechargeStatus, i64)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT recharge_type, status, count(*) AS "count!" FROM recharges
            WHERE created_at >= $1 GROUP BY recharge_type, status
            ORDER BY recharge_type, status"#,
        since,
    )
    .fetch_all(pool)
    .await?;
    let rows = rows.into_iter().map(|row| {
        Ok((
            parse("recharge_type", row.recharge_type)?,
            parse("status", row.status)?,
            row.count,
        ))
    });
    Ok(rows.collect::<Result<_, sqlx::Error>>()?)
}

/// Recharges created since `from`, counted by status in buckets `width` wide starting at
/// `from`: (bucket start, status, count), only the buckets and statuses that have any.
pub async fn counts_by_bucket_and_status(
    pool: &PgPool,
    from: DateTime<Utc>,
    width: Duration,
) -> Result<Vec<(DateTime<Utc>, RechargeStatus, i64)>, StoreError> {
    let rows = sqlx::query!(
        r#"SELECT date_bin($2::bigint * interval '1 millisecond', created_at, $1) AS "start!",
                  status, count(*) AS "count!"
             FROM recharges WHERE created_at >= $1
            GROUP BY 1, 2 ORDER BY 1, 2"#,
        from,
        millis(width),
    )
    .fetch_all(pool)
    .await?;
    let rows = rows
        .into_iter()
        .map(|row| Ok((row.start, parse("status", row.status)?, row.count)));
    Ok(rows.collect::<Result<_, sqlx::Error>>()?)
}

/// How many inbox rows ended with any of `outcomes`.
pub async fn count_callbacks(pool: &PgPool, outcomes: &[Outcome]) -> Result<i64, StoreError> {
    let outcomes: Vec<String> = outcomes.iter().map(|o| o.as_str().to_owned()).collect();
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM callbacks WHERE outcome = ANY($1)"#,
        &outcomes,
    )
    .fetch_one(pool)
    .await?)
}

/// How many cards are in any of `statuses` and unchanged since `unchanged_since`.
pub async fn count_cards(
    pool: &PgPool,
    statuses: &[CardStatus],
    unchanged_since: DateTime<Utc>,
) -> Result<i64, StoreError> {
    let statuses: Vec<String> = statuses.iter().map(|s| s.as_str().to_owned()).collect();
    Ok(sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM cards WHERE status = ANY($1) AND updated_at <= $2"#,
        &statuses,
        unchanged_since,
    )
    .fetch_one(pool)
    .await?)
}

/// One round trip to the database.
pub async fn ping(pool: &PgPool) -> Result<(), StoreError> {
    sqlx::query_scalar!(r#"SELECT 1 AS "one!""#)
        .fetch_one(pool)
        .await?;
    Ok(())
}
