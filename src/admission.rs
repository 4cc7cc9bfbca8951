//! Admission control for the storefront API: at most `API_MAX_CONCURRENCY` of its requests are
//! served at once, and one more is refused at once (503 `overloaded`, `Retry-After`) instead of
//! queueing behind them, so the requests admitted keep their latency and a storefront learns
//! in milliseconds, not after a timeout, that it must come back. Only the API's router is
//! wrapped: Carat's callbacks, health and metrics never wait for, or count against, it.

use axum::Router;
use axum::error_handling::HandleErrorLayer;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::load_shed::error::Overloaded;
use tower::{BoxError, ServiceBuilder};

use crate::telemetry::NotAFault;

/// `API_MAX_CONCURRENCY` when unset, per connection of the pool: most of a storefront
/// request's time is spent waiting on Carat or in its own code, not holding a connection, so
/// the pool is not what a handful more in flight would wait on (docs/benchmarks.md).
pub const REQUESTS_PER_CONNECTION: usize = 4;

/// What a refused request is told to wait, in seconds: a burst passes quickly, and a client
/// that retries at once would only be refused again.
pub const RETRY_AFTER_SECS: u32 = 1;

/// The `error.code` of a refusal.
pub const CODE: &str = "overloaded";

/// `router`, its requests admitted `capacity` at a time. The limit is one semaphore shared by
/// every route (`Router::layer` wraps each route on its own, so a per-route limit would
/// multiply it); the load shedder turns "no permit now" into an immediate refusal.
pub fn limit(router: Router, capacity: usize) -> Router {
    router.layer(
        ServiceBuilder::new()
            .layer(HandleErrorLayer::new(refuse))
            .layer(LoadShedLayer::new())
            .layer(GlobalConcurrencyLimitLayer::new(capacity)),
    )
}

/// The API's error envelope for a shed request. The routes inside never fail (axum's handlers
/// are infallible), so any other error is unexpected: a 500, logged.
async fn refuse(error: BoxError) -> Response {
    if !error.is::<Overloaded>() {
        tracing::error!(%error, "admission layer failed");
        return (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": {"code": "internal", "message": "internal error"}})),
        )
            .into_response();
    }
    overloaded()
}

/// 503 `overloaded` with `Retry-After`, marked as the service working as meant (its access line
/// is a warning, not an error).
pub fn overloaded() -> Response {
    let body = json!({"error": {
        "code": CODE,
        "message": "the service is answering as many storefront requests as it takes at once; \
                    retry after the Retry-After delay",
    }});
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, axum::Json(body)).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    response.extensions_mut().insert(NotAFault);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_refusal_is_the_apis_envelope_with_retry_after() {
        let response = overloaded();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[RETRY_AFTER], "1");
        assert!(response.extensions().get::<NotAFault>().is_some());
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], CODE);
        assert!(body["error"]["message"].as_str().unwrap().contains("retry"));
    }
}
