//! `Server-Timing` on every storefront API answer: how long the request waited on Carat Portal
//! (`carat`) and how long it took in all (`total`), in milliseconds. The difference is this
//! service's own time: what a storefront engineer (or a browser's developer tools, or
//! `bench/run`) reads to tell a slow gateway from a slow service.
//!
//! The wait is summed by the use-case layer (`carat_core::carat_wait`).

use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// The middleware: times the request and writes the header.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let (mut response, carat) = carat_core::carat_wait::measure(next.run(request)).await;
    if let Ok(value) = HeaderValue::try_from(header_value(carat, started.elapsed())) {
        response.headers_mut().insert(SERVER_TIMING, value);
    }
    response
}

/// `carat;dur=12.345, total;dur=15.678` (W3C Server Timing, milliseconds). Pure.
pub fn header_value(carat: Duration, total: Duration) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "carat;dur={:.3};desc=\"Carat Portal\", total;dur={:.3}",
        ms(carat),
        ms(total)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_is_milliseconds_with_microseconds() {
        assert_eq!(
            header_value(Duration::from_micros(12_345), Duration::from_micros(15_678)),
            "carat;dur=12.345;desc=\"Carat Portal\", total;dur=15.678"
        );
    }
}
