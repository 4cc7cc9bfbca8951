//! The storefront's card routes: store a card, list a customer's, show one, refresh one.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::json::ApiJson;
use carat_core::cards::{CardError, CardView, CustomerId, StoreCardRequest, Stored};

impl From<CardError> for ApiError {
    fn from(e: CardError) -> Self {
        match e {
            CardError::NotFound => Self::NotFound("no card with this id".into()),
            CardError::Conflict(message) => Self::Conflict {
                message,
                status: None,
                recharge_id: None,
            },
            CardError::Invalid(e) => Self::InvalidField(e),
            CardError::Carat(problem) => Self::Carat(problem),
            CardError::Store(e) => e.into(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    customer_id: Option<String>,
}

fn card_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::NotFound("no card with this id".into()))
}

/// 201 with the card once Carat answered (whatever it judged: CON, NEG, DUP...); 202 when
/// its answer was lost (`unknown`: the HASH notification settles it).
pub async fn store(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<StoreCardRequest>,
) -> Result<Response, ApiError> {
    let (status, row) = match state.cards.store(body).await? {
        Stored::Answered(row) => (StatusCode::CREATED, row),
        Stored::OutcomeUnknown(row) => (StatusCode::ACCEPTED, row),
    };
    let location = format!("/api/v1/cards/{}", row.id);
    // Never the token, even with CARD_TOKEN_VISIBLE: a POST's answer may be kept with its
    // Idempotency-Key; the token is shown by GET only.
    Ok((
        status,
        [(header::LOCATION, location)],
        Json(CardView::new(row, false)),
    )
        .into_response())
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Json<CardList>, ApiError> {
    let query: ListQuery = super::query::parse(raw.as_deref())?;
    let customer_id = query
        .customer_id
        .ok_or_else(|| ApiError::invalid("customer_id", "is required"))?;
    let customer_id =
        CustomerId::parse(customer_id).map_err(|e| ApiError::invalid("customer_id", e))?;
    let cards: Vec<CardView> = state
        .cards
        .list(&customer_id)
        .await?
        .into_iter()
        .map(|row| state.cards.view(row))
        .collect();
    Ok(Json(CardList { cards }))
}

/// `GET /api/v1/cards`: each card serialized as the single-card answers are, keys in the same
/// order (a `serde_json::Value` would sort them).
#[derive(Debug, serde::Serialize)]
pub struct CardList {
    cards: Vec<CardView>,
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<CardView>, ApiError> {
    let row = state.cards.get(card_id(&id)?).await?;
    Ok(Json(state.cards.view(row)))
}

/// 202: Carat answered `OK` and will send the HASH notification again; the card as it is now.
pub async fn refresh(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = state.cards.refresh(card_id(&id)?).await?;
    Ok((StatusCode::ACCEPTED, Json(state.cards.view(row))).into_response())
}
