//! `GET /api/v1/recharges`: the operators' view of every recharge, filtered, newest first,
//! paged by an opaque cursor (keyset pagination on `(created_at, id)`, so a page never repeats
//! or skips a row however many recharges are created meanwhile: new ones sort before the
//! cursor).

use axum::Json;
use axum::extract::{RawQuery, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::views::RechargeView;
use carat_domain::{Nit, OrderId, RechargeStatus};
use carat_store::recharge_list::{Filter, Key};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    /// One or several statuses, comma-separated.
    status: Option<String>,
    in_doubt: Option<String>,
    created_from: Option<String>,
    created_to: Option<String>,
    order_id: Option<String>,
    nit: Option<String>,
    cursor: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RechargeList {
    /// Each as `GET /api/v1/recharges/{id}` shows it, without its `events`, its payment and a
    /// PIN sale's receipts (those only on the recharge's own GET).
    recharges: Vec<RechargeView>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<RechargeList>, ApiError> {
    let query: ListQuery = super::query::parse(raw.as_deref())?;
    let (filter, after, limit) = parse(query)?;
    // One row more than the page says whether there is a next one.
    let mut rows = state.recharges.list(&filter, after, limit + 1).await?;
    let next_cursor = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| {
            encode_cursor(Key {
                created_at: r.created_at,
                id: r.id,
            })
        })
    } else {
        None
    };
    let recharges = rows
        .into_iter()
        .map(|r| RechargeView::new(r, None))
        .collect();
    Ok(Json(RechargeList {
        recharges,
        next_cursor,
    }))
}

fn parse(q: ListQuery) -> Result<(Filter, Option<Key>, i64), ApiError> {
    let mut statuses = q.status.map(|s| parse_statuses(&s)).transpose()?;
    if let Some(in_doubt) = q.in_doubt {
        let in_doubt = match in_doubt.as_str() {
            "true" => true,
            "false" => false,
            _ => return Err(ApiError::invalid("in_doubt", "must be `true` or `false`")),
        };
        // In doubt is a set of statuses (`RechargeStatus::is_in_doubt`): intersect with it.
        let within = statuses.unwrap_or_else(|| RechargeStatus::ALL.to_vec());
        statuses = Some(
            within
                .into_iter()
                .filter(|s| s.is_in_doubt() == in_doubt)
                .collect(),
        );
    }
    let created_from = q
        .created_from
        .map(|t| timestamp("created_from", &t))
        .transpose()?;
    let created_to = q
        .created_to
        .map(|t| timestamp("created_to", &t))
        .transpose()?;
    if let (Some(from), Some(to)) = (created_from, created_to)
        && to < from
    {
        return Err(ApiError::invalid(
            "created_to",
            "must not be before created_from",
        ));
    }
    let order_id = q
        .order_id
        .map(|o| OrderId::parse(o).map_err(|e| ApiError::invalid("order_id", e)))
        .transpose()?;
    let nit = q
        .nit
        .map(|n| Nit::parse(n).map_err(|e| ApiError::invalid("nit", e)))
        .transpose()?;
    let after = q
        .cursor
        .map(|c| {
            decode_cursor(&c).ok_or_else(|| {
                ApiError::invalid("cursor", "is not a cursor this listing gave (next_cursor)")
            })
        })
        .transpose()?;
    let limit = super::page_limit(q.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let filter = Filter {
        statuses,
        created_from,
        created_to,
        order_id: order_id.map(String::from),
        nit: nit.map(String::from),
    };
    Ok((filter, after, limit))
}

/// `status=a,b`: every one a known status, at least one.
fn parse_statuses(value: &str) -> Result<Vec<RechargeStatus>, ApiError> {
    let known = || {
        RechargeStatus::ALL
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let statuses = value
        .split(',')
        .map(|s| {
            RechargeStatus::parse(s.trim()).ok_or_else(|| {
                ApiError::invalid(
                    "status",
                    format!("`{s}` is not a status; the statuses are {}", known()),
                )
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(statuses)
}

fn timestamp(field: &'static str, value: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(value)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            ApiError::invalid(
                field,
                "must be an RFC 3339 instant, e.g. 2026-11-21T15:00:00Z",
            )
        })
}

/// The cursor: the last row's key, `<created_at in microseconds>.<id>` in URL-safe base64
/// (opaque to clients; microseconds are PostgreSQL's precision, so it round-trips exactly).
pub fn encode_cursor(key: Key) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        key.created_at.timestamp_micros(),
        key.id.simple()
    ))
}

/// The key a cursor holds; `None` for anything [`encode_cursor`] could not have written.
pub fn decode_cursor(cursor: &str) -> Option<Key> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (micros, id) = text.split_once('.')?;
    let created_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
    // A cursor holds a row's `created_at`, which the database set to its own `now()`: never
    // outside years 1..=9999. Anything else was forged or damaged, and could even fall outside
    // PostgreSQL's timestamptz range (4713 BC to 294276 AD), which fails the query (a 500).
    if !CURSOR_YEARS.contains(&created_at.year()) {
        return None;
    }
    Some(Key {
        created_at,
        id: Uuid::try_parse(id).ok()?,
    })
}

/// The years a cursor's instant may fall in (see [`decode_cursor`]).
const CURSOR_YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        let key = Key {
            created_at: DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap(),
            id: Uuid::new_v4(),
        };
        let cursor = encode_cursor(key);
        assert!(
            cursor
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_eq!(decode_cursor(&cursor), Some(key));
    }

    #[test]
    fn malformed_cursors_are_refused() {
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        for bad in [
            String::new(),
            "not base64!".to_owned(),
            b64("no-dot"),
            b64("12.not-a-uuid"),
            b64("x.00000000000000000000000000000000"),
            b64(&format!("{}.{}", i64::MAX, Uuid::nil().simple())),
        ] {
            assert_eq!(decode_cursor(&bad), None, "{bad:?}");
        }
    }

    /// An instant chrono holds and PostgreSQL does not (before 4713 BC) is not a cursor, nor is
    /// one outside years 1..=9999; the first and last instants of that range are.
    #[test]
    fn cursors_hold_instants_of_years_1_to_9999() {
        let at = |rfc3339: &str| DateTime::parse_from_rfc3339(rfc3339).unwrap().to_utc();
        let cursor_of =
            |micros: i64| URL_SAFE_NO_PAD.encode(format!("{micros}.{}", Uuid::nil().simple()));
        let first = at("0001-01-01T00:00:00Z").timestamp_micros();
        let last = at("9999-12-31T23:59:59.999999Z").timestamp_micros();
        let before_postgres = chrono::NaiveDate::from_ymd_opt(-5000, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp_micros();
        for micros in [before_postgres, first - 1, last + 1] {
            assert_eq!(decode_cursor(&cursor_of(micros)), None, "{micros}");
        }
        for micros in [first, last] {
            let key = decode_cursor(&cursor_of(micros)).unwrap();
            assert_eq!(key.created_at.timestamp_micros(), micros);
        }
    }

    fn query(pairs: &str) -> Result<(Filter, Option<Key>, i64), ApiError> {
        parse(serde_urlencoded::from_str(pairs).unwrap())
    }

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::InvalidField(f) => f.field.into_owned(),
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn in_doubt_narrows_the_statuses() {
        let (f, _, limit) = query("in_doubt=true").unwrap();
        assert_eq!(limit, DEFAULT_LIMIT);
        let statuses = f.statuses.unwrap();
        assert!(!statuses.is_empty());
        assert!(statuses.iter().all(|s| s.is_in_doubt()));
        let (f, _, _) = query("status=effectuating,confirmed&in_doubt=false").unwrap();
        assert_eq!(f.statuses.unwrap(), vec![RechargeStatus::Confirmed]);
    }

    #[test]
    fn each_bad_parameter_is_named() {
        for (q, field) in [
            ("status=confirmed,nope", "status"),
            ("status=", "status"),
            ("in_doubt=yes", "in_doubt"),
            ("created_from=yesterday", "created_from"),
            ("created_to=2026-11-21", "created_to"),
            (
                "created_from=2026-11-21T10:00:00Z&created_to=2026-11-21T09:00:00Z",
                "created_to",
            ),
            ("order_id=has-dash", "order_id"),
            ("nit=short", "nit"),
            ("cursor=%%%", "cursor"),
            ("limit=0", "limit"),
            ("limit=201", "limit"),
            ("limit=ten", "limit"),
        ] {
            assert_eq!(field_of(query(q).unwrap_err()), field, "{q}");
        }
        assert_eq!(query("limit=200").unwrap().2, 200);
    }
}
