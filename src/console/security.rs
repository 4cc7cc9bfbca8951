//! The headers every `/console` answer carries: a content security policy that allows no
//! script at all and only the console's own stylesheet, no framing, no caching (pages show
//! sales, and a revealed PIN), no referrer, no MIME sniffing.

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, PRAGMA, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// No script, no inline style, nothing from elsewhere; forms post only here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
                       form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The headers, as pairs, so a test can name each.
pub fn headers() -> [(axum::http::HeaderName, HeaderValue); 6] {
    [
        (CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)),
        (X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (CACHE_CONTROL, HeaderValue::from_static("no-store")),
        // HTTP/1.0 caches.
        (PRAGMA, HeaderValue::from_static("no-cache")),
        (REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
        (X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    ]
}

/// Sets [`headers`] on `map`, replacing any a handler set.
pub fn apply(map: &mut HeaderMap) {
    for (name, value) in headers() {
        map.insert(name, value);
    }
}

/// The layer: every answer under `/console`, errors and redirects included.
pub async fn layer(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    apply(response.headers_mut());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_set_and_replaces_a_handlers() {
        let mut map = HeaderMap::new();
        map.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=3600"));
        apply(&mut map);
        assert_eq!(map[CACHE_CONTROL], "no-store");
        assert_eq!(map[X_FRAME_OPTIONS], "DENY");
        assert_eq!(map[REFERRER_POLICY], "no-referrer");
        assert_eq!(map[X_CONTENT_TYPE_OPTIONS], "nosniff");
        let csp = map[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert_eq!(
            csp,
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        assert!(
            !csp.contains("script-src"),
            "default-src 'none' covers scripts"
        );
        assert!(!csp.contains("unsafe-inline"));
    }
}
