//! `Authorization: Bearer <token>` on every storefront route, with any of `API_TOKENS`, or of
//! `API_READONLY_TOKENS` on the routes that only read what is stored.

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// Who is calling: set by [`require_bearer`] for the handlers and layers behind it. The scope
/// is which of `API_TOKENS` was presented (its position is not stable across rotations, so the
/// token's id, [`carat_domain::token_id`], is used), so one token's idempotency keys never
/// answer another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub scope: String,
    /// One of `API_READONLY_TOKENS` (support staff).
    pub read_only: bool,
}

/// What a read-only token may reach: `GET`s that read the database only. The recharge's
/// dealers and branches are `GET`s too, but they call Carat (and store what it lists), so
/// support staff cannot trigger them.
const READ_ONLY_ROUTES: &[&str] = &[
    "/api/v1/recharges",
    "/api/v1/recharges/{id}",
    "/api/v1/callbacks",
    "/api/v1/cards",
    "/api/v1/cards/{id}",
];

/// Whether a read-only token may make this request (`route` is the matched route template).
pub fn read_only_may(method: &Method, route: Option<&str>) -> bool {
    (method == Method::GET || method == Method::HEAD)
        && route.is_some_and(|r| READ_ONLY_ROUTES.contains(&r))
}

pub async fn require_bearer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = match presented_token(req.headers()) {
        Ok(presented) => presented,
        Err(e) => return e.into_response(),
    };
    let Some(token) = presented else {
        return ApiError::Unauthorized.into_response();
    };
    let full = is_one_of(token, &state.api_tokens);
    let read_only = is_one_of(token, &state.api_readonly_tokens);
    if !full && !read_only {
        return ApiError::Unauthorized.into_response();
    }
    // Configuration refuses a token in both lists; were it there, it is read-only.
    if read_only {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(MatchedPath::as_str);
        if !read_only_may(req.method(), route) {
            return ApiError::ReadOnlyToken.into_response();
        }
    }
    let caller = Caller {
        scope: carat_domain::token_id(token),
        read_only,
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The bearer token of the request's one `Authorization` header, if any: what the API and
/// `GET /metrics` both ask for. A repeated header is a 400.
pub(crate) fn presented_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    Ok(authorization(headers)?
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token))
}

/// Whether `token` is one of `tokens`. Every configured token is compared, matching or not,
/// so timing says nothing.
pub(crate) fn is_one_of(token: &str, tokens: &[carat_domain::Secret]) -> bool {
    tokens.iter().fold(false, |found, known| {
        constant_time_eq(token.as_bytes(), known.expose().as_bytes()) | found
    })
}

/// The one `Authorization` value, if any. Sent twice it is a 400: which of the two would be the
/// caller's is a guess (proxies and frameworks pick differently), so neither is used.
fn authorization(headers: &HeaderMap) -> Result<Option<&HeaderValue>, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(ApiError::MalformedHeader {
            header: "Authorization",
            reason: "must be sent once",
        });
    }
    Ok(first)
}

/// The token of an `Authorization` value whose scheme is `Bearer`, in any case (RFC 9110:
/// auth schemes are case-insensitive).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Compares without an early exit, so response time says nothing about the token.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn compares_whole_tokens() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn authorization_is_one_header() {
        use axum::http::header::AUTHORIZATION;
        use axum::http::{HeaderMap, HeaderValue};
        let mut headers = HeaderMap::new();
        assert_eq!(super::authorization(&headers).unwrap(), None);
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(super::authorization(&headers).unwrap().unwrap(), "Bearer a");
        headers.append(AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        match super::authorization(&headers) {
            Err(super::ApiError::MalformedHeader { header, .. }) => {
                assert_eq!(header, "Authorization")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for value in [
            "Bearer abc",
            "bearer abc",
            "BEARER abc",
            "bEaReR  abc",
            " Bearer abc ",
        ] {
            assert_eq!(super::bearer_token(value), Some("abc"), "{value:?}");
        }
        for value in ["Basic abc", "Bearer", "Bearer ", "Bearerabc", "abc", ""] {
            assert_eq!(super::bearer_token(value), None, "{value:?}");
        }
    }

    #[test]
    fn read_only_tokens_only_read_what_is_stored() {
        use axum::http::Method;
        for route in [
            "/api/v1/recharges",
            "/api/v1/recharges/{id}",
            "/api/v1/callbacks",
            "/api/v1/cards",
            "/api/v1/cards/{id}",
        ] {
            assert!(super::read_only_may(&Method::GET, Some(route)), "{route}");
            assert!(!super::read_only_may(&Method::POST, Some(route)), "{route}");
        }
        for route in [
            "/api/v1/recharges/{id}/dealers",
            "/api/v1/recharges/{id}/branches",
        ] {
            assert!(!super::read_only_may(&Method::GET, Some(route)), "{route}");
        }
        assert!(!super::read_only_may(&Method::GET, None));
        assert!(!super::read_only_may(
            &Method::DELETE,
            Some("/api/v1/recharges/{id}")
        ));
    }
}
