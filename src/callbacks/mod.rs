//! Carat Portal's form-urlencoded POSTs to this store: parsed tolerantly, validated strictly,
//! committed, and only then answered 200.

pub mod authenticity;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use sqlx::PgPool;

use crate::domain::MerchantId;

#[derive(Clone, Debug)]
pub struct CallbackState {
    pub pool: PgPool,
    /// Our merchant id on Carat: a POST for another merchant is not for us.
    pub merchant_id: MerchantId,
    /// A NIT's lifetime at Carat: past it, the reconciler asks whether a NIT expired.
    pub nit_lifetime: std::time::Duration,
}

/// The longest callback body: Carat's forms are a few hundred bytes.
pub const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: CallbackState) -> Router {
    Router::new()
        .route("/callbacks/authenticity", post(authenticity::receive))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
