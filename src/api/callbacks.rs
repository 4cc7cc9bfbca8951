//! `GET /api/v1/callbacks`: the callback inbox, for operators: what Carat sent, what it was
//! answered, how often it came.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::error::ApiError;
use carat_domain::payment_status::FollowUp;
use carat_store::callbacks::{self, CallbackKind, CallbackRow, Outcome};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    outcome: Option<String>,
    /// `authenticity`, `status`, ...: one kind of callback.
    kind: Option<String>,
    /// `query` or `discrepancy`: status notifications that contradicted their recharge.
    follow_up: Option<String>,
    before: Option<String>,
    limit: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct CallbackView {
    #[serde(flatten)]
    row: CallbackRow,
    /// The body as it arrived (form-urlencoded text; bytes that are not UTF-8 are replaced).
    raw_body: String,
}

#[derive(Debug, Serialize)]
pub struct CallbackList {
    callbacks: Vec<CallbackView>,
    /// Pass as `before` for the next page; absent on the last one.
    next_before: Option<i64>,
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<CallbackList>, ApiError> {
    let query: ListQuery = super::query::parse(raw.as_deref())?;
    let outcome = query
        .outcome
        .map(|o| {
            Outcome::parse(&o).ok_or_else(|| {
                ApiError::invalid("outcome", "must be `accepted`, `refused` or `unmatched`")
            })
        })
        .transpose()?;
    let kind = query
        .kind
        .map(|k| CallbackKind::parse(&k).ok_or_else(unknown_kind))
        .transpose()?;
    let follow_up = query
        .follow_up
        .map(|f| match FollowUp::parse(&f) {
            Some(f @ (FollowUp::Query | FollowUp::Discrepancy)) => Ok(f),
            _ => Err(ApiError::invalid(
                "follow_up",
                "must be `query` or `discrepancy`",
            )),
        })
        .transpose()?;
    let before = query
        .before
        .map(|b| {
            b.parse::<i64>()
                .map_err(|_| ApiError::invalid("before", "must be a callback id"))
        })
        .transpose()?;
    let limit = super::page_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let rows = state
        .callbacks
        .inbox(
            callbacks::Filter {
                outcome,
                kind,
                follow_up,
            },
            before,
            limit,
        )
        .await?;
    let next_before = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let callbacks = rows
        .into_iter()
        .map(|row| CallbackView {
            raw_body: String::from_utf8_lossy(&row.raw_body).into_owned(),
            row,
        })
        .collect();
    Ok(Json(CallbackList {
        callbacks,
        next_before,
    }))
}

/// Names every kind the inbox keeps, in [`CallbackKind::ALL`]'s order.
fn unknown_kind() -> ApiError {
    let kinds = CallbackKind::ALL.map(CallbackKind::as_str).join(", ");
    ApiError::invalid("kind", format!("must be one of {kinds}"))
}
