//! The recharge a path's `{id}` names, found before the body is read: an unknown id is a 404
//! whatever the body (malformed, too large, of another content type).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;

/// The id of a recharge that exists.
pub struct KnownRecharge(pub Uuid);

impl FromRequestParts<AppState> for KnownRecharge {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| unknown())?;
        let id = recharge_id(&raw)?;
        match state.recharges.exists(id).await? {
            true => Ok(Self(id)),
            false => Err(unknown()),
        }
    }
}

/// A recharge id from the path; anything that is not one names no recharge.
pub fn recharge_id(raw: &str) -> Result<Uuid, ApiError> {
    let id = Uuid::parse_str(raw).map_err(|_| unknown())?;
    tracing::Span::current().record("recharge_id", tracing::field::display(id));
    Ok(id)
}

fn unknown() -> ApiError {
    ApiError::NotFound("no recharge with this id".into())
}
