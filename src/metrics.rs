//! The metrics' HTTP side: the request layer that counts every answer by route template and
//! status (and the callbacks by outcome), and `GET /metrics`. The registry and what it counts
//! are the use-case layer's (`carat_core::metrics`).

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use carat_core::metrics::{CallbackOutcome, Exposition, Metrics};
use carat_domain::Secret;
use carat_store::lane::Lane;
use sqlx::PgPool;

/// The route label of every request no route matched: a scanner's paths (or a near miss on the
/// callback path secret) never become label values.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Counts every request by its matched route template (never the path itself, which may hold
/// the callback path secret or a scanner's noise) and status, with its latency; and the
/// callbacks by the outcome they set.
pub async fn record_requests(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned());
    let response = next.run(req).await;
    let route = route.unwrap_or_else(|| UNMATCHED_ROUTE.to_owned());
    if let Some(outcome) = response.extensions().get::<CallbackOutcome>() {
        metrics.callback(callback_kind(&route), outcome.as_str());
    }
    metrics.request(route, response.status().as_u16(), started.elapsed());
    response
}

/// The callback a route template is for, by its last segment.
fn callback_kind(route: &str) -> &'static str {
    match route.rsplit('/').next() {
        Some("authenticity") => "authenticity",
        Some("status") => "status",
        Some("hash") => "hash",
        _ => "other",
    }
}

#[derive(Clone)]
struct Scrape {
    metrics: Metrics,
    pool: PgPool,
    lane: Arc<Lane>,
    /// `None` on the separate `METRICS_ADDR` listener: there, the network decides who scrapes.
    tokens: Option<Vec<Secret>>,
}

/// `GET /metrics`. On the main listener (`tokens` set) it asks for a bearer token of
/// `API_TOKENS` or `API_READONLY_TOKENS`: the counts say how the business runs.
pub fn router(
    metrics: Metrics,
    pool: PgPool,
    lane: Arc<Lane>,
    tokens: Option<Vec<Secret>>,
) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(Scrape {
            metrics,
            pool,
            lane,
            tokens,
        })
}

async fn scrape(State(s): State<Scrape>, headers: HeaderMap) -> Response {
    if let Some(tokens) = &s.tokens {
        let presented = match crate::api::auth::presented_token(&headers) {
            Ok(presented) => presented,
            Err(e) => return e.into_response(),
        };
        let known = presented.is_some_and(|token| crate::api::auth::is_one_of(token, tokens));
        if !known {
            return crate::api::error::ApiError::Unauthorized.into_response();
        }
    }
    let format = negotiate(&headers);
    let body = s.metrics.render(&s.pool, &s.lane, format).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(format.content_type()),
        )],
        body,
    )
        .into_response()
}

/// OpenMetrics when `Accept` lists `application/openmetrics-text` (version 1.0.0, or none
/// named) at a quality no lower than any range the classic format fits (`text/plain`,
/// `text/*`, `*/*`); otherwise the classic format, which every scraper reads, also when
/// `Accept` is absent or names neither. Prometheus asks for OpenMetrics first by default.
fn negotiate(headers: &HeaderMap) -> Exposition {
    let (mut openmetrics, mut classic) = (0.0_f32, 0.0_f32);
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','));
    for range in ranges {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or_default().to_ascii_lowercase();
        let (mut quality, mut version) = (1.0_f32, None);
        for param in parts {
            match param.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                // An unreadable quality counts as 0: that range is ignored.
                Some((k, v)) if k.eq_ignore_ascii_case("q") => quality = v.parse().unwrap_or(0.0),
                Some((k, v)) if k.eq_ignore_ascii_case("version") => version = Some(v),
                _ => {}
            }
        }
        match media.as_str() {
            "application/openmetrics-text" if version.is_none_or(|v| v == "1.0.0") => {
                openmetrics = openmetrics.max(quality);
            }
            "text/plain" | "text/*" | "*/*" => classic = classic.max(quality),
            _ => {}
        }
    }
    if openmetrics > 0.0 && openmetrics >= classic {
        Exposition::OpenMetrics
    } else {
        Exposition::Classic
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn negotiated(accept: &[&str]) -> Exposition {
        let mut headers = HeaderMap::new();
        for value in accept {
            headers.append(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        }
        negotiate(&headers)
    }

    #[test]
    fn openmetrics_only_when_the_scraper_prefers_it() {
        use Exposition::{Classic, OpenMetrics};
        assert_eq!(negotiated(&[]), Classic);
        assert_eq!(negotiated(&["*/*"]), Classic);
        assert_eq!(negotiated(&["application/json"]), Classic);
        assert_eq!(negotiated(&["Application/OpenMetrics-Text"]), OpenMetrics);
        assert_eq!(
            negotiated(&["text/plain", "application/openmetrics-text"]),
            OpenMetrics
        );
        assert_eq!(
            negotiated(&["application/openmetrics-text; version=1.0.0; q=0.4, text/*;q=0.5"]),
            Classic
        );
        assert_eq!(
            negotiated(&["application/openmetrics-text;version=0.0.1,*/*;q=0.1"]),
            Classic
        );
        assert_eq!(
            negotiated(&["application/openmetrics-text;q=nonsense"]),
            Classic
        );
    }

    #[test]
    fn callback_kind_is_the_last_segment_of_the_template() {
        assert_eq!(callback_kind("/callbacks/{secret}/status"), "status");
        assert_eq!(callback_kind("/callbacks/authenticity"), "authenticity");
        assert_eq!(callback_kind("/callbacks/hash"), "hash");
    }
}
