//! The authenticity POST: Carat Portal tells us the NIT of a transaction it is creating, and
//! waits for our 200 before answering the create. Answering anything else makes Carat abort the
//! create, so the answer is the authenticity check itself: 200 only for a create this store is
//! making, and only once the NIT is committed.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::CallbackState;
use crate::carat::wire::AuthenticityForm;
use crate::domain::{FieldError, FormatError, GeneralHash, MerchantId, MerchantUsn, Nit, OrderId};
use crate::store::{self, NitCommit, StoreError};

/// The POST's parameters, each of its documented format.
#[derive(Debug)]
struct Authenticity {
    nit: Nit,
    merchant_id: MerchantId,
    order_id: OrderId,
    merchant_usn: MerchantUsn,
    general_hash: GeneralHash,
}

impl TryFrom<AuthenticityForm> for Authenticity {
    type Error = FieldError;

    fn try_from(form: AuthenticityForm) -> Result<Self, FieldError> {
        fn field<T>(
            name: &'static str,
            value: Option<String>,
            parse: impl FnOnce(String) -> Result<T, FormatError>,
        ) -> Result<T, FieldError> {
            let value = value.ok_or_else(|| FieldError::new(name, "is missing"))?;
            parse(value).map_err(|e| FieldError::new(name, e))
        }
        Ok(Self {
            nit: field("nit", form.nit, Nit::parse)?,
            merchant_id: field("merchantId", form.merchant_id, MerchantId::parse)?,
            order_id: field("orderId", form.order_id, OrderId::parse)?,
            merchant_usn: field("merchantUSN", form.merchant_usn, |v| MerchantUsn::parse(&v))?,
            general_hash: field("generalHash", form.general_hash, GeneralHash::parse)?,
        })
    }
}

pub async fn receive(State(state): State<CallbackState>, body: Bytes) -> Response {
    // Tolerant parse: unknown parameters are ignored; the content type is not insisted on.
    let form: AuthenticityForm = match serde_urlencoded::from_bytes(&body) {
        Ok(form) => form,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, format!("malformed form body: {e}")),
    };
    let post = match Authenticity::try_from(form) {
        Ok(post) => post,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let span = tracing::Span::current();
    span.record("nit", tracing::field::display(&post.nit));
    if post.merchant_id != state.merchant_id {
        return refuse(
            StatusCode::FORBIDDEN,
            "merchantId: not this store's merchant id".to_owned(),
        );
    }

    let detail = serde_json::json!({
        "nit": post.nit,
        "merchantId": post.merchant_id.as_str(),
        "orderId": post.order_id,
        "merchantUSN": post.merchant_usn.to_string(),
        "generalHash": post.general_hash,
    });
    let outcome = store::recharges::commit_nit(
        &state.pool,
        &post.order_id,
        post.merchant_usn,
        &post.nit,
        &post.general_hash,
        detail,
    )
    .await;
    match outcome {
        Ok(NitCommit::Committed(r)) => {
            span.record("recharge_id", tracing::field::display(r.id));
            tracing::info!("authenticity POST committed the NIT");
            ok()
        }
        Ok(NitCommit::AlreadyCommitted(r)) => {
            span.record("recharge_id", tracing::field::display(r.id));
            tracing::info!("authenticity POST repeated; nothing changed");
            ok()
        }
        Ok(NitCommit::NoPendingCreate) => refuse(
            StatusCode::NOT_FOUND,
            "no create of this store is waiting for a NIT with this orderId and merchantUSN"
                .to_owned(),
        ),
        Ok(NitCommit::Conflict) => refuse(
            StatusCode::CONFLICT,
            "this order already holds another NIT, or this NIT belongs to another order".to_owned(),
        ),
        // Never 200 without the commit: Carat then fails the create, which is what must happen.
        Err(StoreError::Unavailable(e)) => {
            tracing::error!(error = %e, "authenticity POST: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(e) => {
            tracing::error!(error = %e, "authenticity POST: could not commit");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn ok() -> Response {
    (StatusCode::OK, "OK").into_response()
}

fn refuse(status: StatusCode, reason: String) -> Response {
    tracing::warn!(%status, %reason, "authenticity POST refused");
    (status, reason).into_response()
}
