//! The storefront's recharge routes.

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::AppState;
use super::error::ApiError;
use super::json::{self, ApiJson, JsonBytes};
use super::recharge_path::{KnownRecharge, ListedRecharge, recharge_id};
use super::views::{PaymentView, RechargeView};
use carat_core::recharge::{
    BranchData, Chosen, Dealers, EffectuateRequest, InvoiceRequest, OthersEffectuateRequest,
    TvChoice,
};
use carat_domain::effectuation::BarCode;
use carat_domain::{BranchCode, Ddd, DealerCode, OrderId, RechargeType, UsedPaymentMethod};

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
    /// How the sale was paid (`domain::payment_methods`); only with `confirm: true`.
    #[serde(default)]
    pub used_payment_methods: Option<Vec<UsedPaymentMethod>>,
}

/// `normal`: `dealer_code` and `ddd`; `others`: `dealer_code` and `branch_code`.
#[derive(Debug, Deserialize)]
pub struct BranchesQuery {
    pub dealer_code: Option<String>,
    pub ddd: Option<String>,
    /// `others`: the product (one of the dealer's branches).
    pub branch_code: Option<String>,
    /// `invoice`: the bill's bar code.
    pub bar_code: Option<String>,
}

pub async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<CreateRecharge>,
) -> Result<impl IntoResponse, ApiError> {
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
    let payment = state
        .recharges
        .payment(&recharge)
        .await?
        .map(PaymentView::new);
    let mut view = RechargeView::new(recharge, Some(events));
    view.payment = payment;
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
) -> Result<Response, ApiError> {
    let id = recharge_id(&id)?;
    let query: BranchesQuery = super::query::parse(raw.as_deref())?;
    let dealer_code = required("dealer_code", query.dealer_code, DealerCode::parse)?;
    let opened = state.recharges.open_listed(id).await?;
    match opened.recharge_type() {
        RechargeType::Invoice => {
            let bar_code = required("bar_code", query.bar_code, BarCode::parse)?;
            let bill = state
                .recharges
                .bill(opened, &dealer_code, &bar_code)
                .await?;
            Ok(Json(bill).into_response())
        }
        RechargeType::Others => {
            if query.ddd.is_some() {
                return Err(ApiError::invalid(
                    "ddd",
                    "goes with a top-up's dealer, not with a product's; send branch_code",
                ));
            }
            let branch_code = required("branch_code", query.branch_code, BranchCode::parse)?;
            let data = state
                .recharges
                .product_branches(opened, &dealer_code, &branch_code)
                .await?;
            Ok(Json(data).into_response())
        }
        RechargeType::Normal => {
            if query.branch_code.is_some() {
                return Err(ApiError::invalid(
                    "branch_code",
                    "is for `others` recharges; a top-up's branch data is listed by ddd",
                ));
            }
            let ddd = required("ddd", query.ddd, Ddd::parse)?;
            let data: BranchData = state.recharges.branches(opened, &ddd, &dealer_code).await?;
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
    ListedRecharge(opened): ListedRecharge,
    JsonBytes(body): JsonBytes,
) -> Result<Json<RechargeView>, ApiError> {
    // A body naming `tv_package` chooses among the TV packages Carat offered (`resubmit.rs`).
    let recharge = if TvChoice::is_named_in(&body) {
        let choice: TvChoice = json::parse(&body)?;
        state.recharges.choose_tv_package(opened, choice).await?
    } else {
        let chosen = match opened.recharge_type() {
            RechargeType::Normal => Chosen::Normal(json::parse::<EffectuateRequest>(&body)?),
            RechargeType::Others => Chosen::Others(json::parse::<OthersEffectuateRequest>(&body)?),
            RechargeType::Invoice => Chosen::Invoice(json::parse::<InvoiceRequest>(&body)?),
        };
        state.recharges.effectuate(opened, chosen).await?
    };
    let payment = state
        .recharges
        .payment(&recharge)
        .await?
        .map(PaymentView::new);
    let mut view = RechargeView::new(recharge, None);
    view.payment = payment;
    Ok(Json(view))
}

pub async fn confirm(
    State(state): State<AppState>,
    KnownRecharge(opened): KnownRecharge,
    ApiJson(body): ApiJson<ConfirmRecharge>,
) -> Result<Json<RechargeView>, ApiError> {
    let recharge = state
        .recharges
        .confirm(opened, body.confirm, body.used_payment_methods)
        .await?;
    let payment = state
        .recharges
        .payment(&recharge)
        .await?
        .map(PaymentView::new);
    let mut view = RechargeView::new(recharge, None);
    view.payment = payment;
    Ok(Json(view))
}
