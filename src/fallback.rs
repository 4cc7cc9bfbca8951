//! What every listener answers where no route matches: the API's JSON envelope, so that an
//! unknown path, a wrong callback path secret and a wrong method all look alike.

use crate::api::error::ApiError;

pub async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// Axum adds the `Allow` header to what this answers.
pub async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}
