//! `X-Request-Id` on every request and response: the client's when it is sane, a new UUID
//! otherwise. Runs outside the trace layer, so the request's span carries the same id.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client id kept.
const MAX_LEN: usize = 128;

pub async fn set_and_echo(mut req: Request, next: Next) -> Response {
    let kept = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| is_sane(v.as_bytes()));
    let id = match kept {
        Some(id) => id.clone(),
        None => HeaderValue::try_from(uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a header value"),
    };
    req.headers_mut().insert(X_REQUEST_ID, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_REQUEST_ID, id);
    response
}

/// 1 to 128 visible ASCII characters: safe in logs and in a header, short enough to store.
fn is_sane(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.iter().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::is_sane;

    #[test]
    fn keeps_short_visible_ascii_only() {
        assert!(is_sane(b"abc-123"));
        assert!(is_sane(&[b'x'; 128]));
        assert!(!is_sane(&[b'x'; 129]));
        assert!(!is_sane(b""));
        assert!(!is_sane(b"has space"));
        assert!(!is_sane(b"tab\there"));
        assert!(!is_sane("café".as_bytes()));
    }
}
