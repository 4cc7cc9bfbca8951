//! The operator console: HTML pages under `/console` on the service's own listener, for
//! operators (signed in with a full API token: they may act on a sale) and support staff (a
//! read-only token: they only read). No script at all, every answer carries a strict security
//! policy (`security.rs`), every state-changing form carries the session's CSRF token
//! (`session.rs`). What the pages show and do is the use-case layer's
//! (`carat_core::console`, `RechargeService`'s operator actions); this module is the door.
//!
//! One file per responsibility: `context.rs` (the request's language, the signed-in viewer,
//! the error page), `i18n.rs` (every label in pt-BR and English), `format.rs` (money, dates),
//! `chart.rs` (the 24-hour SVG), `csv.rs` (the streamed export), `form.rs` (reading fields),
//! `pages/` (one file per page).

pub mod chart;
pub mod context;
pub mod csv;
pub mod form;
pub mod format;
pub mod i18n;
pub mod pages;
pub mod security;
pub mod session;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use carat_core::console::{Desk, Sessions};
use carat_core::metrics::Metrics;
use carat_core::recharge::{Heartbeat, RechargeService};
use carat_domain::Secret;

/// The longest form the console takes: a reason is at most 500 characters.
pub const BODY_LIMIT: usize = 16 * 1024;

/// What the console's handlers reach.
#[derive(Clone)]
pub struct ConsoleState {
    pub sessions: Sessions,
    pub desk: Desk,
    /// The operator actions go through the same use cases as the storefront's calls.
    pub recharges: RechargeService,
    /// A token of these signs in as an operator...
    pub api_tokens: Vec<Secret>,
    /// ...and one of these as support staff.
    pub api_readonly_tokens: Vec<Secret>,
    pub metrics: Metrics,
    /// Cookies are `Secure` when the service serves TLS itself.
    pub secure_cookies: bool,
    /// The reconciler's heartbeat and how old its last pass may be; `None` when it does not
    /// run in this process.
    pub reconciler: Option<(Heartbeat, Duration)>,
}

/// The stylesheet, the console's only static file.
const CSS: &str = include_str!("static/console.css");

async fn stylesheet() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        CSS,
    )
}

pub fn router(state: ConsoleState) -> Router {
    use pages::{login, overview, queues, recharge, search};
    Router::new()
        .route("/console", get(overview::show))
        .route("/console/login", get(login::show).post(login::sign_in))
        .route("/console/logout", post(login::sign_out))
        .route("/console/recharges", get(search::show))
        .route("/console/recharges.csv", get(search::export))
        .route("/console/recharges/{id}", get(recharge::show))
        .route("/console/recharges/{id}/{action}", post(recharge::act))
        .route("/console/queues/{queue}", get(queues::show))
        .route("/console/static/console.css", get(stylesheet))
        // Anything else under /console: the console's own 404 page, with its headers.
        .route(
            "/console/{*rest}",
            get(context::not_found).post(context::not_found),
        )
        // Before the layers, so that they wrap it too (and the service's JSON one, set on
        // every route without one of its own, does not replace it).
        .method_not_allowed_fallback(context::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            context::language,
        ))
        .layer(axum::middleware::from_fn(security::layer))
        .with_state(state)
}

#[cfg(test)]
pub(crate) mod testing {
    //! Stored rows for the pages' tests.

    use carat_domain::{
        AuthMode, CaratStatus, EffectuationInput, MerchantUsn, OrderId, RechargeStatus,
        RechargeType,
    };
    use carat_store::Recharge;

    /// A stored recharge: `effectuation` as the store keeps it (`null` for none yet),
    /// confirmed (CON), created 2026-12-06T02:30Z (05/12/2026 23:30 in São Paulo).
    pub fn recharge(effectuation: serde_json::Value) -> Recharge {
        let effectuation: Option<carat_domain::Effectuation> =
            (!effectuation.is_null()).then(|| serde_json::from_value(effectuation).unwrap());
        let kind = match effectuation.as_ref().map(|e| &e.input) {
            Some(EffectuationInput::Others { .. }) => RechargeType::Others,
            Some(EffectuationInput::Invoice { .. }) => RechargeType::Invoice,
            _ => RechargeType::Normal,
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-12-06T02:30:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        Recharge {
            id: uuid::Uuid::parse_str("0192f0c1-0000-7000-8000-000000000001").unwrap(),
            recharge_type: kind,
            order_id: OrderId::parse("PEDIDO123").unwrap(),
            merchant_usn: MerchantUsn::parse("42").unwrap(),
            nit: None,
            general_hash: None,
            status: RechargeStatus::Confirmed,
            carat_status: Some(CaratStatus::Con),
            outcome_unknown: false,
            call_deadline: None,
            effectuation: effectuation.map(sqlx::types::Json),
            carat_answer: None,
            customer_receipt: None,
            merchant_receipt: None,
            receipt_ciphertext: None,
            receipt_key_id: None,
            last_error_code: None,
            last_error_message: None,
            created_at: at,
            updated_at: at,
            attempt: 1,
            started_at: None,
            effectuated_at: None,
            next_attempt_at: None,
            reconcile_attempts: 0,
            reconcile_error: None,
            lease_owner: None,
            lease_until: None,
            query_requested_at: None,
            decision_payment_methods: None,
            auth_mode: AuthMode::Authenticity,
        }
    }

    /// A `normal` sale of R$ 1.234,56 to (11) 98765-4321, as the store keeps it.
    pub fn normal() -> serde_json::Value {
        serde_json::json!({
            "kind": "normal",
            "dealer": {"code": "1", "type_code": "1"},
            "phone": {"ddd": "11", "number": "987654321"},
            "amount": 123456
        })
    }

    /// A PIN sale (`others`) of R$ 50,00: dealer 7's product 00000000012.
    pub fn others() -> serde_json::Value {
        serde_json::json!({
            "kind": "others",
            "dealer": {"code": "7", "type_code": "3", "branch": {"code": "00000000012"}},
            "amount": 5000
        })
    }
}
