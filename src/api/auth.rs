//! `Authorization: Bearer <token>` on every storefront route, with any of `API_TOKENS`.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;

/// Who is calling: set by [`require_bearer`] for the handlers and layers behind it. The scope
/// is which of `API_TOKENS` was presented (its position is not stable across rotations, so a
/// fingerprint of the token is used), so one token's idempotency keys never answer another's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    pub scope: String,
}

pub async fn require_bearer(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let presented = req
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token);
    let Some(token) = presented else {
        return ApiError::Unauthorized.into_response();
    };
    // Every configured token is compared, matching or not, so timing says nothing.
    let matched = state.api_tokens.iter().fold(false, |found, known| {
        constant_time_eq(token.as_bytes(), known.expose().as_bytes()) | found
    });
    if !matched {
        return ApiError::Unauthorized.into_response();
    }
    let caller = Caller {
        scope: fingerprint(token),
    };
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// The token of an `Authorization` value whose scheme is `Bearer`, in any case (RFC 9110:
/// auth schemes are case-insensitive).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim_start();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// A short, non-reversible name for a token (SHA-256, first 16 hex digits).
fn fingerprint(token: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares without an early exit, so response time says nothing about the token.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
    fn fingerprints_differ_and_hide_the_token() {
        let a = super::fingerprint("token-a");
        assert_eq!(a.len(), 16);
        assert_ne!(a, super::fingerprint("token-b"));
        assert!(!a.contains("token"));
    }
}
