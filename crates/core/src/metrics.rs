//! Prometheus metrics: one registry per [`Metrics`] (no global state, so each test's
//! application counts only its own work), rendered in the [`Exposition`] format the scraper
//! asked for (served by the service's `GET /metrics`), with the process's own series
//! ([`process`], Linux only).
//!
//! Counters and histograms are moved where the event is known (the HTTP layer, the Carat
//! client's one `send`, the callbacks' answers, the reconciler's loop). What the database holds
//! (recharges by status, those in doubt) and the pool's state are read at scrape time: one
//! bounded `GROUP BY` per scrape, always true after a restart or with several instances, which
//! counters kept in memory would not be.
//! Series and labels: docs/metrics.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Metric;
use prometheus_client::registry::Registry;
use sqlx::PgPool;

use carat_store::lane::Lane;

mod process;

/// The two text formats `/metrics` can answer. Each body goes out under its own content
/// type: an OpenMetrics body labelled as the classic format is misread by Prometheus's
/// classic parser (a counter `x` whose samples are `x_total` loses its type or its samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exposition {
    /// Prometheus's classic text format 0.0.4: what `promtool check metrics` and every
    /// scraper read.
    Classic,
    /// OpenMetrics 1.0.0, for the scrapers that ask for it (Prometheus does, by default).
    OpenMetrics,
}

impl Exposition {
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Classic => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Self::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteOnly {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    operation: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ActionLabels {
    action: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PassLabels {
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// Seconds, 5 ms to about 20 s: a Carat call's timeout is seconds, an API answer milliseconds.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

struct Inner {
    registry: Registry,
    http_requests: Family<RouteLabels, Counter>,
    http_duration: HistogramFamily<RouteOnly>,
    carat_calls: Family<CallLabels, Counter>,
    carat_duration: HistogramFamily<CallLabels>,
    callbacks: Family<CallbackLabels, Counter>,
    reconcile_passes: Family<PassLabels, Counter>,
    reconcile_actions: Family<ActionLabels, Counter>,
    console: ConsoleCounters,
    scrape: ScrapeGauges,
}

/// The operator console's refusals: sign-ins with an unknown token, and actions posted by a
/// support (read-only) session.
struct ConsoleCounters {
    sign_in_failures: Counter,
    forbidden_actions: Counter,
}

/// The gauges set at scrape time from what the database and the pools hold: apart, because
/// nothing moves them between scrapes.
struct ScrapeGauges {
    recharges: Family<StatusLabels, Gauge>,
    recharges_in_doubt: Gauge,
    database_up: Gauge,
    pool_connections: Family<StateLabels, Gauge>,
    pool_max: Gauge,
    lane_connections: Family<StateLabels, Gauge>,
    lane_max: Gauge,
    pool_acquire: Gauge<f64, std::sync::atomic::AtomicU64>,
}

/// Registers `metric` under `name` and hands it back: the registry keeps a clone, the caller
/// the handle it moves.
fn register<M: Metric + Clone>(registry: &mut Registry, name: &str, help: &str, metric: M) -> M {
    registry.register(name, help, metric.clone());
    metric
}

/// The process's metrics; cheap to clone. `Default` is a registry of its own, for the pieces
/// built without one (unit tests, the standalone sandbox): what they count is never served.
#[derive(Clone)]
pub struct Metrics(Arc<Inner>);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        // The process's series keep their standard names, without the service's prefix: the
        // root holds them, a sub-registry the service's own.
        let mut registry = Registry::default();
        #[cfg(target_os = "linux")]
        registry.register_collector(Box::new(process::ProcessCollector));
        let ours = registry.sub_registry_with_prefix("carat_merchant");
        // Registration order is the order `/metrics` lists the series in.
        let (http_requests, http_duration) = register_http(ours);
        let (carat_calls, carat_duration, callbacks) = register_calls(ours);
        let (reconcile_passes, reconcile_actions) = register_reconciler(ours);
        let console = ConsoleCounters::register(ours);
        let scrape = ScrapeGauges::register(ours);
        Self(Arc::new(Inner {
            registry,
            http_requests,
            http_duration,
            carat_calls,
            carat_duration,
            callbacks,
            reconcile_passes,
            reconcile_actions,
            console,
            scrape,
        }))
    }

    /// A console sign-in refused: the token is none of the API's.
    pub fn console_sign_in_failed(&self) {
        self.0.console.sign_in_failures.inc();
    }

    /// A console action posted by a session that may not act (support staff).
    pub fn console_action_forbidden(&self) {
        self.0.console.forbidden_actions.inc();
    }

    /// One outbound call to Carat, its outcome as [`CallOutcome::as_str`] names it.
    pub fn carat_call(&self, operation: &'static str, outcome: &'static str, took: Duration) {
        let labels = CallLabels { operation, outcome };
        self.0.carat_calls.get_or_create(&labels).inc();
        self.0
            .carat_duration
            .get_or_create(&labels)
            .observe(took.as_secs_f64());
    }

    pub fn callback(&self, kind: &'static str, outcome: &'static str) {
        self.0
            .callbacks
            .get_or_create(&CallbackLabels { kind, outcome })
            .inc();
    }

    /// One reconciler pass ended: `ok` false when it failed (the database away).
    pub fn reconcile_pass(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.0
            .reconcile_passes
            .get_or_create(&PassLabels { result })
            .inc();
    }

    /// `n` recharges the reconciler `claimed`, `ended` or `left_open`, counted as it goes (not
    /// at the pass's end) so the count is there as soon as the recharge moved.
    pub fn reconcile_actions(&self, action: &'static str, n: usize) {
        self.0
            .reconcile_actions
            .get_or_create(&ActionLabels { action })
            .inc_by(n as u64);
    }

    /// One HTTP request answered, by its route template (never the path itself).
    pub fn request(&self, route: String, status: u16, took: Duration) {
        self.0
            .http_duration
            .get_or_create(&RouteOnly {
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.0
            .http_requests
            .get_or_create(&RouteLabels { route, status })
            .inc();
    }

    /// Reads what the database holds into the gauges, then renders everything in `format`.
    pub async fn render(&self, pool: &PgPool, lane: &Lane, format: Exposition) -> String {
        let (in_use, idle, size) = lane.counts();
        for (state, count) in [("in_use", in_use), ("idle", idle)] {
            self.0
                .scrape
                .lane_connections
                .get_or_create(&StateLabels { state })
                .set(count as i64);
        }
        self.0.scrape.lane_max.set(size as i64);
        self.collect(pool).await;
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = match format {
            Exposition::Classic => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.0.registry)
            }
            Exposition::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.0.registry)
            }
        };
        out
    }

    async fn collect(&self, pool: &PgPool) {
        let idle = pool.num_idle() as i64;
        let size = i64::from(pool.size());
        self.0
            .scrape
            .pool_connections
            .get_or_create(&StateLabels { state: "idle" })
            .set(idle);
        self.0
            .scrape
            .pool_connections
            .get_or_create(&StateLabels { state: "in_use" })
            .set((size - idle).max(0));
        self.0
            .scrape
            .pool_max
            .set(i64::from(pool.options().get_max_connections()));

        let waited = Instant::now();
        let counts: Result<Vec<(String, i64)>, sqlx::Error> = async {
            let mut conn = pool.acquire().await?;
            self.0
                .scrape
                .pool_acquire
                .set(waited.elapsed().as_secs_f64());
            // Bounded: one row per status, whatever the table's size.
            carat_store::recharges::recharges_by_status(&mut conn).await
        }
        .await;
        match counts {
            Ok(rows) => {
                // Cleared first so a status no recharge has any more reads 0 by its absence.
                self.0.scrape.recharges.clear();
                let mut in_doubt = 0;
                for (status, n) in rows {
                    if carat_domain::RechargeStatus::parse(&status).is_some_and(|s| s.is_in_doubt())
                    {
                        in_doubt += n;
                    }
                    self.0
                        .scrape
                        .recharges
                        .get_or_create(&StatusLabels { status })
                        .set(n);
                }
                self.0.scrape.recharges_in_doubt.set(in_doubt);
                self.0.scrape.database_up.set(1);
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics: could not count the recharges");
                self.0.scrape.database_up.set(0);
            }
        }
    }
}

/// The storefront's side: every request answered, by route.
fn register_http(
    registry: &mut Registry,
) -> (Family<RouteLabels, Counter>, HistogramFamily<RouteOnly>) {
    let requests = register(
        registry,
        "http_requests",
        "HTTP requests answered, by matched route template and status",
        Family::default(),
    );
    let duration = register(
        registry,
        "http_request_duration_seconds",
        "Time to answer an HTTP request, by matched route template",
        Family::new_with_constructor(latency_histogram as fn() -> Histogram),
    );
    (requests, duration)
}

/// Carat's side: our calls to it, and its callbacks to us.
fn register_calls(
    registry: &mut Registry,
) -> (
    Family<CallLabels, Counter>,
    HistogramFamily<CallLabels>,
    Family<CallbackLabels, Counter>,
) {
    let calls = register(
        registry,
        "carat_calls",
        "Outbound calls to Carat Portal, by operation and outcome",
        Family::default(),
    );
    let duration = register(
        registry,
        "carat_call_duration_seconds",
        "Time an outbound call to Carat Portal took, by operation and outcome",
        Family::new_with_constructor(latency_histogram as fn() -> Histogram),
    );
    let callbacks = register(
        registry,
        "callbacks",
        "Carat's callbacks answered, by kind and outcome",
        Family::default(),
    );
    (calls, duration, callbacks)
}

fn register_reconciler(
    registry: &mut Registry,
) -> (Family<PassLabels, Counter>, Family<ActionLabels, Counter>) {
    let passes = register(
        registry,
        "reconciler_passes",
        "Reconciler passes, by result (ok, failed: the database away)",
        Family::default(),
    );
    let actions = register(
        registry,
        "reconciler_actions",
        "Recharges the reconciler worked on, by what came of it (claimed, ended, left_open)",
        Family::default(),
    );
    (passes, actions)
}

impl ConsoleCounters {
    fn register(registry: &mut Registry) -> Self {
        Self {
            sign_in_failures: register(
                registry,
                "console_sign_in_failures",
                "Operator console sign-ins refused (a token that is none of the API's)",
                Counter::default(),
            ),
            forbidden_actions: register(
                registry,
                "console_forbidden_actions",
                "Operator console actions posted by a support (read-only) session, refused",
                Counter::default(),
            ),
        }
    }
}

impl ScrapeGauges {
    fn register(registry: &mut Registry) -> Self {
        Self {
            recharges: register(
                registry,
                "recharges",
                "Recharges in the database by status, read at scrape time",
                Family::default(),
            ),
            recharges_in_doubt: register(
                registry,
                "recharges_in_doubt",
                "Recharges whose last call to Carat may or may not have been applied (effectuating, confirming, undoing), read at scrape time",
                Gauge::default(),
            ),
            database_up: register(
                registry,
                "database_up",
                "1 when this scrape could read the recharges' counts, 0 when the database failed",
                Gauge::default(),
            ),
            pool_connections: register(
                registry,
                "db_pool_connections",
                "Database pool connections by state (in_use, idle), read at scrape time",
                Family::default(),
            ),
            pool_max: register(
                registry,
                "db_pool_max_connections",
                "The pool's size limit (DATABASE_MAX_CONNECTIONS)",
                Gauge::default(),
            ),
            lane_connections: register(
                registry,
                "db_lane_connections",
                "The authenticity POST's own connections by state (in_use, idle), read at scrape time",
                Family::default(),
            ),
            lane_max: register(
                registry,
                "db_lane_max_connections",
                "The lane's size limit (DATABASE_CALLBACK_CONNECTIONS)",
                Gauge::default(),
            ),
            pool_acquire: register(
                registry,
                "db_pool_acquire_seconds",
                "How long this scrape waited for a pool connection: near 0 unless the pool is exhausted (sqlx counts no waits itself; requests that waited too long are the 503s of http_requests_total)",
                Gauge::default(),
            ),
        }
    }
}

/// A Carat call's outcome label: what Carat did with the call, as far as we know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    Ok,
    /// Carat answered 2xx/4xx with a refusal.
    EsitefError,
    /// An unreadable answer with a 4xx.
    Http4xx,
    /// Any 5xx, readable or not.
    Http5xx,
    Timeout,
    /// Not sent, or the connection broke.
    Transport,
}

impl CallOutcome {
    /// The label's text (docs/metrics.md).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::EsitefError => "esitef_error",
            Self::Http4xx => "http_4xx",
            Self::Http5xx => "http_5xx",
            Self::Timeout => "timeout",
            Self::Transport => "transport",
        }
    }
}

/// A Carat call's outcome, sorted from its result.
pub fn call_outcome<T>(result: &Result<T, crate::carat::CaratError>) -> CallOutcome {
    use crate::carat::CaratError;
    match result {
        Ok(_) => CallOutcome::Ok,
        Err(CaratError::Answered(r)) if r.http_status >= 500 => CallOutcome::Http5xx,
        Err(CaratError::Answered(r)) if r.unreadable || r.code.is_none() => {
            if r.http_status >= 400 {
                CallOutcome::Http4xx
            } else {
                CallOutcome::EsitefError
            }
        }
        Err(CaratError::Answered(_)) => CallOutcome::EsitefError,
        Err(CaratError::NoAnswer {
            timeout_ms: Some(_),
            ..
        }) => CallOutcome::Timeout,
        Err(_) => CallOutcome::Transport,
    }
}

/// Set by the callbacks on their answer, so the request layer counts it by kind and outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallbackOutcome {
    Accepted,
    Refused,
    /// A 404: this store does not hold what it names (a NIT, an order).
    Unmatched,
    /// Not kept: the database away, or a commit that failed.
    Unavailable,
}

impl CallbackOutcome {
    /// The label's text (docs/metrics.md).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Accepted => "accepted",
            Self::Refused => "refused",
            Self::Unmatched => "unmatched",
            Self::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::carat::{CaratCall, CaratError, Refusal};

    fn answered(http_status: u16, code: Option<&str>, unreadable: bool) -> Result<(), CaratError> {
        Err(CaratError::Answered(Refusal {
            http_status,
            code: code.map(str::to_owned),
            message: None,
            carat_status: None,
            unreadable,
        }))
    }

    #[test]
    fn outcomes_are_named_by_what_carat_did() {
        let label = |r: &Result<(), CaratError>| call_outcome(r).as_str();
        assert_eq!(label(&Ok(())), "ok");
        assert_eq!(label(&answered(200, Some("14"), false)), "esitef_error");
        assert_eq!(label(&answered(400, Some("5"), false)), "esitef_error");
        assert_eq!(label(&answered(404, None, true)), "http_4xx");
        assert_eq!(label(&answered(500, Some("99"), false)), "http_5xx");
        assert_eq!(label(&answered(502, None, true)), "http_5xx");
        let no_answer = |timeout_ms| {
            Err::<(), _>(CaratError::NoAnswer {
                call: CaratCall::Query,
                reason: "x".into(),
                timeout_ms,
            })
        };
        assert_eq!(label(&no_answer(Some(1000))), "timeout");
        assert_eq!(label(&no_answer(None)), "transport");
        let not_sent = Err::<(), _>(CaratError::NotSent {
            call: CaratCall::Query,
            reason: "refused".into(),
        });
        assert_eq!(label(&not_sent), "transport");
    }
}
