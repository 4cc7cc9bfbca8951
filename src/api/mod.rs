//! The storefront's JSON API, under `/api/v1`, behind a bearer token.

pub mod auth;
pub mod callbacks;
pub mod cards;
pub mod error;
pub mod idempotency;
pub mod json;
pub mod json_errors;
pub mod listing;
pub mod openapi;
pub mod query;
pub mod recharge_path;
pub mod recharges;
pub mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use carat_core::callbacks::CallbackService;
use carat_core::cards::CardService;
use carat_core::idempotency::Idempotency;
use carat_core::recharge::RechargeService;
use carat_domain::Secret;

/// The longest storefront request body: a recharge is a few hundred bytes.
pub const BODY_LIMIT: usize = 256 * 1024;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    pub recharges: RechargeService,
    /// Stored cards (`/api/v1/cards`).
    pub cards: CardService,
    /// The callback inbox, for `GET /api/v1/callbacks`.
    pub callbacks: CallbackService,
    /// Any of these opens the API (several while one rotates).
    pub api_tokens: Vec<Secret>,
    /// These read what is stored and nothing else (`auth::read_only_may`).
    pub api_readonly_tokens: Vec<Secret>,
    /// `Idempotency-Key`s and the answers kept with them.
    pub idempotency: Idempotency,
    /// Keys the requests' fingerprints (`idempotency.rs`): a body may carry a card number.
    pub fingerprint_key: idempotency::FingerprintKey,
}

/// A listing's `limit` query parameter: `default` when absent, else a whole number from 1 to
/// `max` (a 422 naming `limit` otherwise).
fn page_limit(raw: Option<&str>, default: i64, max: i64) -> Result<i64, error::ApiError> {
    let Some(raw) = raw else { return Ok(default) };
    raw.parse::<i64>()
        .ok()
        .filter(|l| (1..=max).contains(l))
        .ok_or_else(|| {
            error::ApiError::invalid("limit", format!("must be a whole number from 1 to {max}"))
        })
}

pub fn router(state: AppState) -> Router {
    // Inside the bearer check (a route layer wraps those added before it), which names the
    // caller the keys belong to.
    let idempotent = || axum::middleware::from_fn_with_state(state.clone(), idempotency::guard);
    Router::new()
        .route(
            "/api/v1/recharges",
            post(recharges::create)
                .route_layer(idempotent())
                .get(listing::list),
        )
        .route("/api/v1/recharges/{id}", get(recharges::show))
        .route("/api/v1/recharges/{id}/dealers", get(recharges::dealers))
        .route("/api/v1/recharges/{id}/branches", get(recharges::branches))
        .route(
            "/api/v1/recharges/{id}/effectuate",
            post(recharges::effectuate).route_layer(idempotent()),
        )
        .route(
            "/api/v1/recharges/{id}/confirm",
            post(recharges::confirm).route_layer(idempotent()),
        )
        .route("/api/v1/callbacks", get(callbacks::list))
        .route(
            "/api/v1/cards",
            post(cards::store)
                .route_layer(idempotent())
                .get(cards::list),
        )
        .route("/api/v1/cards/{id}", get(cards::show))
        .route("/api/v1/cards/{id}/refresh", post(cards::refresh))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_bearer,
        ))
        // Outermost of the API's own layers: `total` covers the bearer check and the key claim.
        .route_layer(axum::middleware::from_fn(crate::server_timing::record))
        // After the bearer check's layer, so outside it: the document is public (it holds no
        // secret; client generators fetch it without a token).
        .route(openapi::PATH, get(openapi::serve))
        .with_state(state)
}
