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
    use axum::Router;
    use axum::routing::get;

    use super::*;
    use crate::telemetry::captured::Captured;

    /// GETs `/` with `headers` over a plain connection; answers the response's request id.
    async fn request_id_of(addr: std::net::SocketAddr, headers: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request =
            format!("GET / HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        answer
            .lines()
            .find_map(|l| l.strip_prefix("x-request-id: "))
            .unwrap_or_else(|| panic!("no request id in {answer}"))
            .to_owned()
    }

    /// The request's span (from `startup::trace_layer`) logs the id the response carries.
    #[tokio::test]
    async fn the_request_span_carries_the_echoed_id() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || writer.clone())
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let router = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(crate::startup::trace_layer())
            .layer(axum::middleware::from_fn(set_and_echo));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });

        assert_eq!(
            request_id_of(addr, "X-Request-Id: shop-42\r\n").await,
            "shop-42"
        );
        let made = request_id_of(addr, "").await;
        assert!(uuid::Uuid::parse_str(&made).is_ok(), "{made}");

        let logs = captured.text();
        let ids: Vec<String> = logs
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter_map(|entry| entry["span"]["request_id"].as_str().map(str::to_owned))
            .collect();
        assert!(ids.contains(&"shop-42".to_owned()), "{logs}");
        assert!(ids.contains(&made), "{logs}");
    }

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
