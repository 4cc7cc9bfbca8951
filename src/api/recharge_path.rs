//! The recharge a path's `{id}` names, read before the body is: an unknown id is a 404 whatever
//! the body (malformed, too large, of another content type).

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use carat_core::recharge::{FlowError, Opened};

/// The recharge a path names, read once for the whole request (the use case starts from it).
pub struct KnownRecharge(pub Opened);

/// [`KnownRecharge`], with what Carat listed for it: an effectuation is checked against that.
pub struct ListedRecharge(pub Opened);

impl FromRequestParts<AppState> for KnownRecharge {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = path_id(parts, state).await?;
        Ok(Self(known(state.recharges.open(id).await)?))
    }
}

impl FromRequestParts<AppState> for ListedRecharge {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let id = path_id(parts, state).await?;
        Ok(Self(known(state.recharges.open_listed(id).await)?))
    }
}

async fn path_id(parts: &mut Parts, state: &AppState) -> Result<Uuid, ApiError> {
    let Path(raw) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| unknown())?;
    recharge_id(&raw)
}

fn known(opened: Result<Opened, FlowError>) -> Result<Opened, ApiError> {
    match opened {
        Err(FlowError::NotFound) => Err(unknown()),
        other => Ok(other?),
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
