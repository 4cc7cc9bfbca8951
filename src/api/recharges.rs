//! The storefront's recharge routes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;

use super::error::ApiError;
use super::json::{ApiJson, JsonBytes};
use super::recharge_path::{KnownRecharge, recharge_id};
use super::views::RechargeView;
use super::{AppState, effectuation_body};
use crate::domain::{BranchCode, Ddd, DealerCode, OrderId, RechargeType};
use crate::recharge::{BranchData, Dealers};

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

/// `normal`: `dealer_code` and `ddd`; `others`: `dealer_code` and `branch_code`.
#[derive(Debug, Deserialize)]
pub struct BranchesQuery {
    pub dealer_code: Option<String>,
    pub ddd: Option<String>,
    pub branch_code: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateRecharge>,
) -> Result<impl IntoResponse, ApiError> {
    if body.recharge_type == RechargeType::Invoice {
        return Err(ApiError::invalid(
            "recharge_type",
            "`invoice` is not supported yet; this version sells `normal` top-ups and \
             `others` products",
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

/// The only answer that shows a PIN sale's receipts, opened: the storefront reads its PIN
/// here. (The POST answers, which idempotency keeps, never carry it.)
pub async fn show(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RechargeView>, ApiError> {
    let (recharge, events) = state.recharges.get(recharge_id(&id)?).await?;
    let (receipts, pin_receipt) = state.recharges.receipts(&recharge);
    let mut view = RechargeView::new(recharge, Some(events));
    view.receipts = receipts;
    view.pin_receipt = pin_receipt;
    Ok(Json(view))
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
    // A product's branch data: `branch_code` instead of `ddd`.
    if let Some(branch_code) = query.branch_code {
        if query.ddd.is_some() {
            return Err(ApiError::invalid(
                "ddd",
                "goes with a top-up's dealer, not with branch_code; send one or the other",
            ));
        }
        let branch_code =
            BranchCode::parse(branch_code).map_err(|e| ApiError::invalid("branch_code", e))?;
        return Ok(Json(
            state
                .recharges
                .product_branches(id, &dealer_code, &branch_code)
                .await?,
        ));
    }
    let ddd = query
        .ddd
        .ok_or_else(|| ApiError::invalid("ddd", "is required (or branch_code, for a product)"))
        .and_then(|v| Ddd::parse(v).map_err(|e| ApiError::invalid("ddd", e)))?;
    Ok(Json(
        state.recharges.branches(id, &ddd, &dealer_code).await?,
    ))
}

/// The body's shape depends on the recharge's kind (`effectuation_body`).
pub async fn effectuate(
    State(state): State<AppState>,
    KnownRecharge(id): KnownRecharge,
    JsonBytes(body): JsonBytes,
) -> Result<Json<RechargeView>, ApiError> {
    let recharge_type = state.recharges.recharge_type(id).await?;
    let effectuation = effectuation_body::parse(recharge_type, &body)?;
    let recharge = state.recharges.effectuate(id, effectuation).await?;
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
