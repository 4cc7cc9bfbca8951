//! The storefront API's one error type. Every error answers
//! `{"error":{"code":"...","message":"..."}}`, with the field, the recharge's status and
//! Carat's own code and message when they apply. Internal details are logged, never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use carat_core::recharge::{CaratFailure, CaratProblem, FlowError};
use carat_domain::{FieldError, RechargeStatus};
use carat_store::StoreError;

#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    /// A read-only token (`API_READONLY_TOKENS`) on a route that changes something or calls
    /// Carat.
    ReadOnlyToken,
    NotFound(String),
    /// The body is not JSON at all.
    Malformed(String),
    UnsupportedMediaType,
    /// The body is longer than the API accepts (`api::BODY_LIMIT`).
    BodyTooLarge,
    /// The route exists, not with this method.
    MethodNotAllowed,
    /// A field is missing, of the wrong type or format.
    InvalidField(FieldError),
    Conflict {
        message: String,
        status: Option<RechargeStatus>,
        recharge_id: Option<uuid::Uuid>,
    },
    /// Boxed: the largest variant, and every handler's error type carries its size.
    Carat(Box<CaratProblem>),
    /// A money-moving call went out and its answer could not be recorded.
    OutcomeUnrecorded {
        message: String,
        status: RechargeStatus,
    },
    Unavailable,
    Internal,
    /// The `Idempotency-Key` header is not 1–255 visible ASCII characters.
    InvalidIdempotencyKey(&'static str),
    /// The key's first request is still running.
    IdempotencyKeyInUse,
    /// The key came with another request before.
    IdempotencyKeyReused,
}

impl ApiError {
    pub fn invalid(field: &'static str, reason: impl std::fmt::Display) -> Self {
        Self::InvalidField(FieldError::new(field, reason))
    }
}

impl From<FlowError> for ApiError {
    fn from(e: FlowError) -> Self {
        match e {
            FlowError::NotFound => Self::NotFound("no recharge with this id".into()),
            FlowError::OutOfOrder { status, reason } => Self::Conflict {
                message: reason,
                status: Some(status),
                recharge_id: None,
            },
            e @ FlowError::OrderIdTaken { id, status } => Self::Conflict {
                message: e.to_string(),
                status: Some(status),
                recharge_id: Some(id),
            },
            FlowError::Invalid(e) => Self::InvalidField(e),
            FlowError::Carat(problem) => Self::Carat(Box::new(problem)),
            e @ FlowError::OutcomeUnrecorded { status } => Self::OutcomeUnrecorded {
                message: e.to_string(),
                status,
            },
            FlowError::Interrupted => Self::Unavailable,
            FlowError::Store(e) => e.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(source) => {
                tracing::error!(error = %source, "database unavailable");
                Self::Unavailable
            }
            StoreError::Duplicate(field) => Self::Conflict {
                message: format!("{field} is already in use"),
                status: None,
                recharge_id: None,
            },
            StoreError::Other(source) => {
                tracing::error!(error = %source, "database error");
                Self::Internal
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, extra) = match self {
            Self::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid `Authorization: Bearer <API_TOKEN>` header is required".to_owned(),
                json!({}),
            ),
            Self::ReadOnlyToken => (
                StatusCode::FORBIDDEN,
                "read_only_token",
                "this token is read-only (API_READONLY_TOKENS): it may only GET recharges, the recharge listing, callbacks and cards".to_owned(),
                json!({}),
            ),
            Self::NotFound(message) => (StatusCode::NOT_FOUND, "not_found", message, json!({})),
            Self::Malformed(message) => (
                StatusCode::BAD_REQUEST,
                "malformed_body",
                message,
                json!({}),
            ),
            Self::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "the body must be JSON (Content-Type: application/json)".to_owned(),
                json!({}),
            ),
            Self::BodyTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the body must be at most {} KiB", super::BODY_LIMIT / 1024),
                json!({}),
            ),
            Self::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take this method (see the `Allow` header)".to_owned(),
                json!({}),
            ),
            Self::InvalidField(e) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid_field",
                e.to_string(),
                json!({"field": e.field}),
            ),
            Self::Conflict {
                message,
                status,
                recharge_id,
            } => (
                StatusCode::CONFLICT,
                "conflict",
                message,
                json!({"recharge_status": status, "recharge_id": recharge_id}),
            ),
            Self::Carat(p) => {
                let (status, code) = match p.failure {
                    CaratFailure::Denied => (StatusCode::UNPROCESSABLE_ENTITY, "carat_denied"),
                    CaratFailure::Refused => (StatusCode::BAD_GATEWAY, "carat_refused"),
                    CaratFailure::Unavailable if p.answered => {
                        (StatusCode::BAD_GATEWAY, "carat_unavailable")
                    }
                    CaratFailure::Unavailable => (StatusCode::GATEWAY_TIMEOUT, "carat_unavailable"),
                    CaratFailure::OutcomeUnknown if p.answered => {
                        (StatusCode::BAD_GATEWAY, "carat_outcome_unknown")
                    }
                    CaratFailure::OutcomeUnknown => {
                        (StatusCode::GATEWAY_TIMEOUT, "carat_outcome_unknown")
                    }
                };
                let extra = json!({
                    "recharge_status": p.recharge_status,
                    "recharge_id": p.recharge_id,
                    "carat": {
                        "call": p.call,
                        "timeout_ms": p.timeout_ms,
                        "http_status": p.http_status,
                        "code": p.code,
                        "message": p.carat_message,
                        "status": p.carat_status,
                    }
                });
                (status, code, p.message, extra)
            }
            Self::OutcomeUnrecorded { message, status } => (
                StatusCode::SERVICE_UNAVAILABLE,
                "carat_outcome_unknown",
                message,
                json!({"recharge_status": status}),
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "the service cannot reach its database; try again shortly".to_owned(),
                json!({}),
            ),
            Self::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error".to_owned(),
                json!({}),
            ),
            Self::InvalidIdempotencyKey(reason) => (
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                format!("Idempotency-Key {reason}"),
                json!({"header": "Idempotency-Key"}),
            ),
            Self::IdempotencyKeyInUse => (
                StatusCode::CONFLICT,
                "idempotency_key_in_use",
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .to_owned(),
                json!({}),
            ),
            Self::IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                "this Idempotency-Key was used with another request (body, route or method); \
                 use a new key for a new request"
                    .to_owned(),
                json!({}),
            ),
        };
        let mut error = json!({"code": code, "message": message});
        if let (Some(error), serde_json::Value::Object(extra)) = (error.as_object_mut(), extra) {
            error.extend(extra.into_iter().filter(|(_, v)| !v.is_null()));
        }
        (status, Json(json!({ "error": error }))).into_response()
    }
}
