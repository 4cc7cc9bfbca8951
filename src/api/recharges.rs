//! The storefront's recharge routes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::json::{self, ApiJson, JsonBytes};
use super::recharge_path::{KnownRecharge, recharge_id};
use super::views::RechargeView;
use crate::domain::effectuation::BarCode;
use crate::domain::{Ddd, DealerCode, OrderId, RechargeType};
use crate::recharge::{BranchData, Chosen, Dealers, EffectuateRequest, InvoiceRequest, TvChoice};

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
    /// `invoice`: the bill's bar code.
    pub bar_code: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateRecharge>,
) -> Result<impl IntoResponse, ApiError> {
    if body.recharge_type == RechargeType::Others {
        return Err(ApiError::invalid(
            "recharge_type",
            format!(
                "`{}` is not supported yet; this version sells `normal` top-ups and \
                 `invoice` bills",
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
) -> Result<Response, ApiError> {
    let id = recharge_id(&id)?;
    let query: BranchesQuery = serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
        .map_err(|e| ApiError::Malformed(format!("the query string is malformed: {e}")))?;
    let dealer_code = required("dealer_code", query.dealer_code, DealerCode::parse)?;
    match state.recharges.recharge_type(id).await? {
        RechargeType::Invoice => {
            let bar_code = required("bar_code", query.bar_code, BarCode::parse)?;
            let bill = state.recharges.bill(id, &dealer_code, &bar_code).await?;
            Ok(Json(bill).into_response())
        }
        RechargeType::Normal | RechargeType::Others => {
            let ddd = required("ddd", query.ddd, Ddd::parse)?;
            let data: BranchData = state.recharges.branches(id, &ddd, &dealer_code).await?;
            Ok(Json(data).into_response())
        }
    }
}

/// A query parameter that must be present and in its Carat format.
fn required<T, E: std::fmt::Display>(
    name: &'static str,
    value: Option<String>,
    parse: impl FnOnce(String) -> Result<T, E>,
) -> Result<T, ApiError> {
    let value = value.ok_or_else(|| ApiError::invalid(name, "is required"))?;
    parse(value).map_err(|e| ApiError::invalid(name, e))
}

/// The body is read as the recharge's kind has it, so its errors name that kind's fields.
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
        let chosen = match state.recharges.recharge_type(id).await? {
            RechargeType::Invoice => Chosen::Invoice(json::parse::<InvoiceRequest>(&body)?),
            RechargeType::Normal | RechargeType::Others => {
                Chosen::Normal(json::parse::<EffectuateRequest>(&body)?)
            }
        };
        state.recharges.effectuate(id, chosen).await?
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
