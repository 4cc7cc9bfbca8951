//! The storefront's JSON API, under `/api/v1`, behind a bearer token.

pub mod auth;
pub mod callbacks;
pub mod error;
pub mod json;
pub mod json_errors;
pub mod recharge_path;
pub mod recharges;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::domain::Secret;
use crate::recharge::RechargeService;

/// The longest storefront request body: a recharge is a few hundred bytes.
pub const BODY_LIMIT: usize = 256 * 1024;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub recharges: RechargeService,
    /// Any of these opens the API (several while one rotates).
    pub api_tokens: Vec<Secret>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/recharges", post(recharges::create))
        .route("/api/v1/recharges/{id}", get(recharges::show))
        .route("/api/v1/recharges/{id}/dealers", get(recharges::dealers))
        .route("/api/v1/recharges/{id}/branches", get(recharges::branches))
        .route(
            "/api/v1/recharges/{id}/effectuate",
            post(recharges::effectuate),
        )
        .route("/api/v1/recharges/{id}/confirm", post(recharges::confirm))
        .route("/api/v1/callbacks", get(callbacks::list))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ))
        .with_state(state)
}
