//! The storefront API's one error type. Every error answers
//! `{"error":{"code":"...","message":"..."}}`, with the field, the recharge's status and
//! Carat's own code and message when they apply. Internal details are logged, never sent.

use axum::Json;
use axum::http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

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
    /// A request header that cannot be read as one value (e.g. `Authorization` sent twice):
    /// the header's name and what is wrong with it.
    MalformedHeader {
        header: &'static str,
        reason: &'static str,
    },
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
        let (status, code) = self.status_and_code();
        let mut error = json!({"code": code, "message": self.message()});
        if let (Some(error), Value::Object(extra)) = (error.as_object_mut(), self.details()) {
            error.extend(extra.into_iter().filter(|(_, v)| !v.is_null()));
        }
        let mut response = (status, Json(json!({ "error": error }))).into_response();
        // RFC 6750 §3: a 401 says which scheme would be accepted.
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        // The database is away: a retry soon may find it back (the circuit probes it often).
        if matches!(self, Self::Unavailable) {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl ApiError {
    /// The answer's status and `error.code`: one per kind, Carat's by what failed.
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::ReadOnlyToken => (StatusCode::FORBIDDEN, "read_only_token"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            Self::BodyTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            Self::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::InvalidField(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::Conflict { .. } => (StatusCode::CONFLICT, "conflict"),
            Self::Carat(p) => carat_status_and_code(p),
            Self::OutcomeUnrecorded { .. } => {
                (StatusCode::SERVICE_UNAVAILABLE, "carat_outcome_unknown")
            }
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            Self::InvalidIdempotencyKey(_) => (StatusCode::BAD_REQUEST, "invalid_idempotency_key"),
            Self::MalformedHeader { .. } => (StatusCode::BAD_REQUEST, "malformed_header"),
            Self::IdempotencyKeyInUse => (StatusCode::CONFLICT, "idempotency_key_in_use"),
            Self::IdempotencyKeyReused => {
                (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused")
            }
        }
    }

    /// `error.message`: for the storefront's developer, never an internal detail.
    fn message(&self) -> String {
        match self {
            Self::Unauthorized => {
                "a valid `Authorization: Bearer <API_TOKEN>` header is required".to_owned()
            }
            Self::ReadOnlyToken => "this token is read-only (API_READONLY_TOKENS): it may only GET recharges, the recharge listing, callbacks and cards".to_owned(),
            Self::NotFound(message)
            | Self::Malformed(message)
            | Self::Conflict { message, .. }
            | Self::OutcomeUnrecorded { message, .. } => message.clone(),
            Self::UnsupportedMediaType => {
                "the body must be JSON (Content-Type: application/json)".to_owned()
            }
            Self::BodyTooLarge => {
                format!("the body must be at most {} KiB", super::BODY_LIMIT / 1024)
            }
            Self::MethodNotAllowed => {
                "this route does not take this method (see the `Allow` header)".to_owned()
            }
            Self::InvalidField(e) => e.to_string(),
            Self::Carat(p) => p.message.clone(),
            Self::Unavailable => {
                "the service cannot reach its database; try again shortly".to_owned()
            }
            Self::Internal => "internal error".to_owned(),
            Self::InvalidIdempotencyKey(reason) => format!("Idempotency-Key {reason}"),
            Self::MalformedHeader { header, reason } => format!("{header} {reason}"),
            Self::IdempotencyKeyInUse => {
                "a request with this Idempotency-Key is still being processed; retry shortly"
                    .to_owned()
            }
            Self::IdempotencyKeyReused => {
                "this Idempotency-Key was used with another request (body, route or method); \
                 use a new key for a new request"
                    .to_owned()
            }
        }
    }

    /// The fields beside `code` and `message` (a null one is left out of the answer).
    fn details(&self) -> Value {
        match self {
            Self::InvalidField(e) => json!({"field": e.field}),
            Self::Conflict {
                status,
                recharge_id,
                ..
            } => json!({"recharge_status": status, "recharge_id": recharge_id}),
            Self::Carat(p) => carat_details(p),
            Self::OutcomeUnrecorded { status, .. } => json!({"recharge_status": status}),
            Self::InvalidIdempotencyKey(_) => json!({"header": "Idempotency-Key"}),
            Self::MalformedHeader { header, .. } => json!({"header": header}),
            _ => json!({}),
        }
    }
}

/// A 502 when Carat answered (a refusal, or a 5xx), a 504 when it did not answer at all.
fn carat_status_and_code(p: &CaratProblem) -> (StatusCode, &'static str) {
    match p.failure {
        CaratFailure::Denied => (StatusCode::UNPROCESSABLE_ENTITY, "carat_denied"),
        CaratFailure::Refused => (StatusCode::BAD_GATEWAY, "carat_refused"),
        CaratFailure::Unavailable if p.answered => (StatusCode::BAD_GATEWAY, "carat_unavailable"),
        CaratFailure::Unavailable => (StatusCode::GATEWAY_TIMEOUT, "carat_unavailable"),
        CaratFailure::OutcomeUnknown if p.answered => {
            (StatusCode::BAD_GATEWAY, "carat_outcome_unknown")
        }
        CaratFailure::OutcomeUnknown => (StatusCode::GATEWAY_TIMEOUT, "carat_outcome_unknown"),
    }
}

/// The recharge's state and Carat's own words, so the storefront can tell what happened.
fn carat_details(p: &CaratProblem) -> Value {
    json!({
        "recharge_status": p.recharge_status,
        "recharge_id": p.recharge_id,
        "carat": {
            "call": p.call.map(carat_core::carat::CaratCall::noun),
            "timeout_ms": p.timeout_ms,
            "http_status": p.http_status,
            "code": p.code,
            "message": p.carat_message,
            "status": p.carat_status,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn carat(failure: CaratFailure, answered: bool) -> ApiError {
        let mut p = CaratProblem::from_answer(failure, "m".into(), None, None, "NOV");
        p.answered = answered;
        ApiError::Carat(Box::new(p))
    }

    #[test]
    fn each_error_has_its_status_and_code() {
        let table = [
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::ReadOnlyToken, 403, "read_only_token"),
            (ApiError::NotFound("x".into()), 404, "not_found"),
            (ApiError::Malformed("x".into()), 400, "malformed_body"),
            (
                ApiError::UnsupportedMediaType,
                415,
                "unsupported_media_type",
            ),
            (ApiError::BodyTooLarge, 413, "body_too_large"),
            (ApiError::MethodNotAllowed, 405, "method_not_allowed"),
            (ApiError::invalid("f", "bad"), 422, "invalid_field"),
            (ApiError::Unavailable, 503, "unavailable"),
            (ApiError::Internal, 500, "internal"),
            (
                ApiError::InvalidIdempotencyKey("x"),
                400,
                "invalid_idempotency_key",
            ),
            (
                ApiError::MalformedHeader {
                    header: "Authorization",
                    reason: "must be sent once",
                },
                400,
                "malformed_header",
            ),
            (ApiError::IdempotencyKeyInUse, 409, "idempotency_key_in_use"),
            (
                ApiError::IdempotencyKeyReused,
                422,
                "idempotency_key_reused",
            ),
            (carat(CaratFailure::Denied, true), 422, "carat_denied"),
            (carat(CaratFailure::Refused, true), 502, "carat_refused"),
            (
                carat(CaratFailure::Unavailable, true),
                502,
                "carat_unavailable",
            ),
            (
                carat(CaratFailure::Unavailable, false),
                504,
                "carat_unavailable",
            ),
            (
                carat(CaratFailure::OutcomeUnknown, true),
                502,
                "carat_outcome_unknown",
            ),
            (
                carat(CaratFailure::OutcomeUnknown, false),
                504,
                "carat_outcome_unknown",
            ),
        ];
        for (error, status, code) in table {
            let (s, c) = error.status_and_code();
            assert_eq!((s.as_u16(), c), (status, code), "{error:?}");
        }
    }

    #[test]
    fn details_leave_out_what_is_not_known() {
        let conflict = ApiError::Conflict {
            message: "taken".into(),
            status: None,
            recharge_id: None,
        };
        assert_eq!(conflict.message(), "taken");
        let answer = conflict.into_response();
        assert_eq!(answer.status(), StatusCode::CONFLICT);
        let p = match carat(CaratFailure::Refused, true) {
            ApiError::Carat(p) => p,
            _ => unreachable!(),
        };
        let details = carat_details(&p);
        assert_eq!(details["carat"]["status"], "NOV");
        assert!(details["carat"]["call"].is_null());
        assert_eq!(
            ApiError::invalid("amount", "bad").details(),
            json!({"field": "amount"})
        );
    }

    #[test]
    fn a_malformed_header_is_named() {
        let error = ApiError::MalformedHeader {
            header: "Authorization",
            reason: "must be sent once",
        };
        assert_eq!(error.message(), "Authorization must be sent once");
        assert_eq!(error.details(), json!({"header": "Authorization"}));
    }

    /// Only a 401 says which scheme to authenticate with (RFC 6750 §3).
    #[test]
    fn only_a_401_names_the_bearer_scheme() {
        let answer = ApiError::Unauthorized.into_response();
        assert_eq!(answer.headers()[WWW_AUTHENTICATE], "Bearer");
        let answer = ApiError::ReadOnlyToken.into_response();
        assert!(!answer.headers().contains_key(WWW_AUTHENTICATE));
    }
}
