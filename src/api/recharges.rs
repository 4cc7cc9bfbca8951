//! The storefront's recharge routes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::json::{self, ApiJson, JsonBytes};
use super::recharge_path::{KnownRecharge, recharge_id};
use super::views::RechargeView;
use crate::domain::{Ddd, DealerCode, OrderId, RechargeType};
use crate::recharge::{BranchData, Dealers, EffectuateRequest, TvChoice};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRecharge {
    pub recharge_type: RechargeType,
    #[serde(default)]
    pub order_id: Option<OrderId>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRecharge {
    pub confirm: bool,
}

#[derive(Debug, Deserialize)]
pub struct BranchesQuery {
    pub dealer_code: Option<String>,
    pub ddd: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateRecharge>,
) -> Result<impl IntoResponse, ApiError> {
    if body.recharge_type != RechargeType::Normal {
        return Err(ApiError::invalid(
            "recharge_type",
            format!(
                "`{}` is not supported yet; this version sells `normal` top-ups",
                body.recharge_type
            ),
        ));
    }
    let recharge = state
        .recharges
        .begin(body.order_id, body.recharge_type)
        .await?;
    let location = format!("/api/v1/recharges/{}", recharge.id);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(RechargeView::new(recharge, None)),
    ))
}

pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RechargeView>, ApiError> {
    let (recharge, events) = state.recharges.get(recharge_id(&id)?).await?;
    Ok(Json(RechargeView::new(recharge, Some(events))))
}

pub async fn dealers(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Dealers>, ApiError> {
    Ok(Json(state.recharges.dealers(recharge_id(&id)?).await?))
}

pub async fn branches(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<BranchData>, ApiError> {
    let id = recharge_id(&id)?;
    let query: BranchesQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::Malformed(format!("the query string is malformed: {e}")))?;
    let dealer_code = query
        .dealer_code
        .ok_or_else(|| ApiError::invalid("dealer_code", "is required"))
        .and_then(|v| DealerCode::parse(v).map_err(|e| ApiError::invalid("dealer_code", e)))?;
    let ddd = query
        .ddd
        .ok_or_else(|| ApiError::invalid("ddd", "is required"))
        .and_then(|v| Ddd::parse(v).map_err(|e| ApiError::invalid("ddd", e)))?;
    Ok(Json(
        state.recharges.branches(id, &ddd, &dealer_code).await?,
    ))
}

pub async fn effectuate(
    State(state): State<AppState>,
    KnownRecharge(id): KnownRecharge,
    JsonBytes(body): JsonBytes,
) -> Result<Json<RechargeView>, ApiError> {
    // A body naming `tv_package` chooses among the TV packages Carat offered (`resubmit.rs`).
    let recharge = if TvChoice::is_named_in(&body) {
        let choice: TvChoice = json::parse(&body)?;
        state.recharges.choose_tv_package(id, choice).await?
    } else {
        state
            .recharges
            .effectuate(id, json::parse::<EffectuateRequest>(&body)?)
            .await?
    };
    Ok(Json(RechargeView::new(recharge, None)))
}

pub async fn confirm(
    State(state): State<AppState>,
    KnownRecharge(id): KnownRecharge,
    ApiJson(body): ApiJson<ConfirmRecharge>,
) -> Result<Json<RechargeView>, ApiError> {
    let recharge = state.recharges.confirm(id, body.confirm).await?;
    Ok(Json(RechargeView::new(recharge, None)))
}
