//! `Server-Timing` on every storefront API answer: how long the request waited on Carat Portal
//! (`carat`) and how long it took in all (`total`), in milliseconds. The difference is this
//! service's own time: what a storefront engineer (or a browser's developer tools, or
//! `bench/run`) reads to tell a slow gateway from a slow service.
//!
//! The wait is summed in a task-local that the use cases carry into the tasks they spawn
//! ([`carry`]); Carat calls made outside a request (the reconciler) add to nothing.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::HeaderName;
use axum::middleware::Next;
use axum::response::Response;

pub const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// Nanoseconds spent waiting on Carat by one request, all its tasks together.
type Wait = Arc<AtomicU64>;

tokio::task_local! {
    static CARAT_WAIT: Wait;
}

/// Adds `waited` to the current request's wait on Carat, if there is a request.
pub fn carat_waited(waited: Duration) {
    let _ = CARAT_WAIT.try_with(|wait| {
        wait.fetch_add(
            u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        )
    });
}

/// `work`, counting its waits on Carat to the request it was spawned from (if any).
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let wait = CARAT_WAIT.try_with(Arc::clone).ok();
    async move {
        match wait {
            Some(wait) => CARAT_WAIT.scope(wait, work).await,
            None => work.await,
        }
    }
}

/// The middleware: times the request and writes the header.
pub async fn record(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let wait = Wait::default();
    let mut response = CARAT_WAIT.scope(wait.clone(), next.run(request)).await;
    let carat = Duration::from_nanos(wait.load(Ordering::Relaxed));
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

    #[tokio::test]
    async fn waits_add_up_across_spawned_tasks_and_outside_a_request_count_nowhere() {
        carat_waited(Duration::from_millis(5));
        let wait = Wait::default();
        CARAT_WAIT
            .scope(wait.clone(), async {
                carat_waited(Duration::from_millis(2));
                tokio::spawn(carry(async { carat_waited(Duration::from_millis(3)) }))
                    .await
                    .unwrap();
                // Not carried: a task of its own.
                tokio::spawn(async { carat_waited(Duration::from_millis(7)) })
                    .await
                    .unwrap();
            })
            .await;
        assert_eq!(
            Duration::from_nanos(wait.load(Ordering::Relaxed)),
            Duration::from_millis(5)
        );
    }
}
