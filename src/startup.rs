//! Wiring: the database, the Carat client (or the embedded sandbox), the routers and the
//! listener.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::serve::ListenerExt;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;
use url::Url;

use crate::api::{self, AppState};
use crate::callbacks::{self, CallbackGuard, CallbackState, PathSecret, SourcePolicy};
use crate::config::Settings;
use crate::console::{self, ConsoleState};
use crate::health::{self, HealthState};
use crate::request_id::{self, X_REQUEST_ID};
use crate::telemetry::{AccessLog, FailureLog};
use crate::tls::{self, ReloadingCert, TlsListener};
use crate::{admission, fallback, metrics};
use carat_core::callbacks::CallbackService;
use carat_core::carat::{CaratClient, CaratClientConfig};
use carat_core::cards::CardService;
use carat_core::console::{Desk, Sessions};
use carat_core::idempotency::Idempotency;
use carat_core::metrics::Metrics;
use carat_core::recharge::{RechargeService, Reconciler, ReconcilerConfig, Timing};
use carat_sandbox::{self as sandbox, Sandbox, SandboxConfig};
use carat_store as store;
use carat_wire::signature::JwtKey;

/// How often each `serve` process deletes idempotency keys past their TTL (and once at start).
/// Keys are kept for hours and an expired one is treated as new whether purged or not, so
/// this only bounds the table's size.
const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);

pub struct Application {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
    pool: PgPool,
    /// `/metrics` on its own listener (`METRICS_ADDR`).
    metrics_server: Option<(TcpListener, Router)>,
    /// The background reconciler, when `RECONCILE_ENABLED`.
    reconciler: Option<Reconciler>,
    shutdown_grace: Duration,
    idempotency: Idempotency,
    /// The certificate served, when the service terminates TLS itself.
    tls: Option<Arc<ReloadingCert>>,
    services: Services,
}

/// The use cases the doors share, for a door that runs beside the routers in the same
/// process (the homologation runner).
#[derive(Clone)]
pub struct Services {
    pub recharges: RechargeService,
    pub cards: CardService,
    pub callbacks: CallbackService,
    /// The embedded sandbox, when it plays Carat.
    pub sandbox: Option<Sandbox>,
    /// The Carat the service calls: `CARAT_BASE_URL`, or the embedded sandbox's own.
    pub carat_base_url: Url,
}

impl Application {
    /// Binds `settings.listen_addr` and builds everything.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(settings.listen_addr)
            .await
            .map_err(|e| anyhow::anyhow!("LISTEN_ADDR {}: {e}", settings.listen_addr))?;
        Self::build_on(settings, listener).await
    }

    /// Builds on a listener already bound (tests bind port 0 first).
    pub async fn build_on(settings: Settings, listener: TcpListener) -> anyhow::Result<Self> {
        let local_addr = listener.local_addr()?;
        let (pool, lane) = database(&settings).await?;
        let tls = served_cert(&settings)?;
        let guard = callback_guard(&settings)?;
        let (carat_base_url, sandbox) =
            carat_or_sandbox(&settings, &guard, local_addr, tls.is_some())?;
        // Once here: both services below build a client on this URL.
        carat_core::carat::client::warn_if_plain_loopback(&carat_base_url);
        let metrics = Metrics::new();
        let recharges =
            recharge_service_with(&settings, pool.clone(), carat_base_url.clone(), &metrics)?;
        // The catalogue cache's and the payment methods' rows, kept in memory while heard.
        recharges.listen_for_shared_changes();
        let cards = card_service_with(&settings, pool.clone(), carat_base_url.clone(), &metrics)?;
        let reconciler = settings
            .reconcile
            .enabled
            .then(|| reconciler(&settings, recharges.clone()).with_metrics(metrics.clone()));
        let (metrics_server, main_metrics) =
            metrics_routes(&settings, &metrics, &pool, &lane).await?;

        // The use cases the doors share: the API reads the callback inbox the callbacks fill.
        let callbacks = CallbackService::new(
            pool.clone(),
            lane.clone(),
            settings.carat.merchant_id.clone(),
            settings.carat.nit_lifetime,
        );
        let idempotency = Idempotency::new(pool.clone(), settings.idempotency_ttl);
        let services = Services {
            recharges: recharges.clone(),
            cards: cards.clone(),
            callbacks: callbacks.clone(),
            sandbox: sandbox.clone(),
            carat_base_url: carat_base_url.clone(),
        };
        let console = console_router(&settings, &pool, &recharges, &metrics, &reconciler, &tls);
        let mut router = Router::new()
            .merge(console)
            .merge(api_router(
                &settings,
                recharges,
                cards,
                &callbacks,
                &idempotency,
            ))
            .merge(callbacks::router(CallbackState { callbacks }, guard))
            .merge(health::router(HealthState {
                pool: pool.clone(),
                reconciler: reconciler
                    .as_ref()
                    .map(|r| (r.heartbeat(), r.stale_after())),
            }));
        if let Some(sandbox) = &sandbox {
            router = router.merge(sandbox.router());
        }
        if let Some(main_metrics) = main_metrics {
            router = router.merge(main_metrics);
        }
        let router = outer_layers(router, &metrics);

        tracing::info!(
            %local_addr,
            tls = tls.is_some(),
            carat = %carat_base_url,
            embedded_sandbox = sandbox.is_some(),
            reconciler = reconciler.is_some(),
            "carat-merchant ready"
        );
        Ok(Self {
            listener,
            router,
            local_addr,
            pool,
            metrics_server,
            reconciler,
            shutdown_grace: settings.shutdown_grace,
            idempotency,
            tls,
            services,
        })
    }

    pub fn services(&self) -> Services {
        self.services.clone()
    }

    /// The reload hook when serving TLS: SIGHUP calls [`ReloadingCert::reload`] on it, and so
    /// can a test (a signal cannot target one in-process app).
    pub fn tls(&self) -> Option<Arc<ReloadingCert>> {
        self.tls.clone()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Where `/metrics` is served on its own (`METRICS_ADDR`), once bound.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// Serves, and reconciles, until `shutdown` completes; then stops accepting connections,
    /// lets the requests in flight finish with their real answers and the reconciler end its
    /// pass, for at most `SHUTDOWN_GRACE_MS`, and returns.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let reconciler = self
            .reconciler
            .map(|reconciler| tokio::spawn(reconciler.run(when_stopped(&stopped))));
        // Expired idempotency keys go whether or not this process reconciles.
        tokio::spawn(api::idempotency::purge_periodically(
            self.idempotency.clone(),
            IDEMPOTENCY_PURGE_INTERVAL,
            when_stopped(&stopped),
        ));
        if let Some((listener, router)) = self.metrics_server {
            spawn_metrics_server(listener, router, when_stopped(&stopped));
        }
        let shutdown = async move {
            shutdown.await;
            let _ = stop.send(true);
        };
        let server = serve(
            self.listener,
            self.router,
            self.tls.as_ref(),
            shutdown,
            &stopped,
        )?;
        drain(
            server,
            reconciler,
            self.shutdown_grace,
            when_stopped(&stopped),
        )
        .await
    }
}

/// The storefront API (`/api/v1`): only it is admitted `API_MAX_CONCURRENCY` at a time.
fn api_router(
    settings: &Settings,
    recharges: RechargeService,
    cards: CardService,
    callbacks: &CallbackService,
    idempotency: &Idempotency,
) -> Router {
    let state = AppState {
        recharges,
        cards,
        callbacks: callbacks.clone(),
        idempotency: idempotency.clone(),
        api_tokens: settings.api_tokens.clone(),
        api_readonly_tokens: settings.api_readonly_tokens.clone(),
        fingerprint_key: api::idempotency::FingerprintKey::derive(&settings.carat.merchant_key),
    };
    admission::limit(api::router(state), settings.api_max_concurrency)
}

/// The operator console under `/console`: its sessions and reads on the pool, its actions
/// through the same recharge use cases as the API.
fn console_router(
    settings: &Settings,
    pool: &PgPool,
    recharges: &RechargeService,
    metrics: &Metrics,
    reconciler: &Option<Reconciler>,
    tls: &Option<Arc<ReloadingCert>>,
) -> Router {
    console::router(ConsoleState {
        sessions: Sessions::new(pool.clone(), settings.console_session_idle),
        desk: Desk::new(pool.clone(), settings.reconcile.pending_timeout),
        recharges: recharges.clone(),
        api_tokens: settings.api_tokens.clone(),
        api_readonly_tokens: settings.api_readonly_tokens.clone(),
        metrics: metrics.clone(),
        secure_cookies: tls.is_some(),
        reconciler: reconciler
            .as_ref()
            .map(|r| (r.heartbeat(), r.stale_after())),
    })
}

/// The pool, and the authenticity POST's own lane of connections beside it; a database server
/// that does not answer yet is waited for up to `DATABASE_STARTUP_WAIT_SECS`.
async fn database(settings: &Settings) -> anyhow::Result<(PgPool, Arc<store::lane::Lane>)> {
    let (pool, circuit) = store::db::open_waiting(
        &settings.database_url,
        settings.database_max_connections,
        settings.database_acquire_timeout,
        settings.database_startup_wait,
    )
    .await?;
    let lane = Arc::new(store::lane::Lane::new(
        &pool,
        circuit,
        settings.database_callback_connections,
        settings.database_acquire_timeout,
    ));
    Ok((pool, lane))
}

/// The certificate served, when the service terminates TLS itself (`TLS_CERT_PATH`).
fn served_cert(settings: &Settings) -> anyhow::Result<Option<Arc<ReloadingCert>>> {
    settings
        .tls
        .clone()
        .map(ReloadingCert::new)
        .transpose()
        .map_err(anyhow::Error::msg)
}

/// The Carat Portal the service calls: `CARAT_BASE_URL`, or the embedded sandbox.
fn carat_or_sandbox(
    settings: &Settings,
    guard: &CallbackGuard,
    local_addr: SocketAddr,
    serves_tls: bool,
) -> anyhow::Result<(Url, Option<Sandbox>)> {
    // Without CARAT_BASE_URL the sandbox plays Carat in this process, and its
    // authenticity POST comes back to this very listener (over HTTPS when serving TLS:
    // then the certificate must be one the platform trusts, for this address).
    let scheme = if serves_tls { "https" } else { "http" };
    let own_url = format!("{scheme}://{}", reachable(local_addr));
    Ok(match &settings.carat.base_url {
        Some(url) => (url.clone(), None),
        None => {
            let callback_url = |name: &str| {
                Url::parse(&format!("{own_url}{}/{name}", callbacks::base_path(guard)))
            };
            let sandbox = Sandbox::new(SandboxConfig {
                merchant_id: settings.carat.merchant_id.clone(),
                merchant_key: settings.carat.merchant_key.clone(),
                authenticity_url: Some(callback_url("authenticity")?),
                nit_lifetime: settings.sandbox.nit_lifetime,
                slow_answer_delay: settings.sandbox.slow_answer_delay,
                callback_timeout: settings.sandbox.callback_timeout,
                status_url: Some(callback_url("status")?),
                hash_url: Some(callback_url("hash")?),
                notification_attempts: settings.sandbox.notification_attempts,
                notification_retry_delay: settings.sandbox.notification_retry_delay,
                jwt_public_key: settings.sandbox_jwt_public_key(),
                jwt_max_age: sandbox::signature::DEFAULT_MAX_AGE,
            });
            (Url::parse(&format!("{own_url}/e-sitef"))?, Some(sandbox))
        }
    })
}

/// `/metrics` on its own unauthenticated listener with `METRICS_ADDR` (the first); otherwise
/// a route for the main listener, behind the API's tokens (the second).
async fn metrics_routes(
    settings: &Settings,
    metrics: &Metrics,
    pool: &PgPool,
    lane: &Arc<store::lane::Lane>,
) -> anyhow::Result<(Option<(TcpListener, Router)>, Option<Router>)> {
    let metrics_server = match settings.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|e| anyhow::anyhow!("METRICS_ADDR {addr}: {e}"))?;
            let router = metrics::router(metrics.clone(), pool.clone(), lane.clone(), None);
            Some((listener, router))
        }
        None => None,
    };
    let main_metrics = metrics_server.is_none().then(|| {
        let tokens = [
            settings.api_tokens.clone(),
            settings.api_readonly_tokens.clone(),
        ]
        .concat();
        metrics::router(metrics.clone(), pool.clone(), lane.clone(), Some(tokens))
    });
    Ok((metrics_server, main_metrics))
}

/// What every request on the main listener passes through: the fallbacks for what no route
/// answers, the metrics, the trace and the request id (outermost, so every line carries it).
fn outer_layers(router: Router, metrics: &Metrics) -> Router {
    router
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            metrics.clone(),
            metrics::record_requests,
        ))
        .layer(trace_layer())
        .layer(axum::middleware::from_fn(request_id::set_and_echo))
}

/// Completes once the stop is sent: one for each task that must end with the server.
fn when_stopped(
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> impl Future<Output = ()> + Send + 'static {
    let mut stopped = stopped.clone();
    async move {
        let _ = stopped.wait_for(|s| *s).await;
    }
}

fn spawn_metrics_server(
    listener: TcpListener,
    router: Router,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await;
        if let Err(e) = served {
            tracing::error!(error = %e, "metrics listener failed");
        }
    });
}

type Serving = Pin<Box<dyn Future<Output = std::io::Result<()>> + Send>>;

/// The main listener, over TLS when the service terminates it, until `shutdown` completes.
fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<&Arc<ReloadingCert>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<Serving> {
    // The peer's address goes into the callback inbox and decides who may post callbacks.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let Some(cert) = tls else {
        return Ok(Box::pin(
            axum::serve(listener, service)
                .with_graceful_shutdown(shutdown)
                .into_future(),
        ));
    };
    let watcher = tls::watch(cert.clone(), tls::WATCH_INTERVAL);
    let until = when_stopped(stopped);
    tokio::spawn(async move {
        until.await;
        watcher.abort();
    });
    let listener = TlsListener::new(
        listener,
        cert.server_config().map_err(std::io::Error::other)?,
    )?
    // `tap_io` only so that `ConnectInfo<SocketAddr>` (axum implements it for a
    // tapped listener) gives the callbacks the peer's address.
    .tap_io(|_| {});
    Ok(Box::pin(
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .into_future(),
    ))
}

/// Lets the requests in flight finish and the reconciler end its pass, for at most `grace`
/// once `stopped` completes.
async fn drain<T>(
    server: Serving,
    reconciler: Option<tokio::task::JoinHandle<T>>,
    grace: Duration,
    stopped: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let deadline = async move {
        stopped.await;
        tracing::info!(
            grace_ms = grace.as_millis() as u64,
            "no new connections; draining requests in flight"
        );
        tokio::time::sleep(grace).await;
    };
    let drained = async move {
        server.await?;
        if let Some(reconciler) = reconciler {
            // It ends the pass it is in, then stops.
            let _ = reconciler.await;
            tracing::info!("reconciler stopped");
        }
        std::io::Result::Ok(())
    };
    tokio::select! {
        drained = drained => {
            drained?;
            tracing::info!("drained; stopping");
        }
        () = deadline => {
            tracing::warn!("SHUTDOWN_GRACE_MS passed with work still in flight; stopping anyway");
        }
    }
    Ok(())
}

/// Who may reach the callbacks; a path secret that cannot be a URL segment stops start-up.
fn callback_guard(settings: &Settings) -> anyhow::Result<CallbackGuard> {
    let path_secret = settings
        .callbacks
        .path_secret
        .clone()
        .map(PathSecret::new)
        .transpose()
        .map_err(|reason| anyhow::anyhow!("setting CALLBACK_PATH_SECRET is invalid: {reason}"))?;
    Ok(CallbackGuard {
        sources: SourcePolicy {
            allowed_networks: settings.callbacks.allowed_networks.clone(),
            trusted_proxies: settings.callbacks.trusted_proxies.clone(),
        },
        path_secret,
    })
}

/// A Carat client with the configured timeouts and merchant, its calls counted in `metrics`.
/// `jwt_key`: the recharges' signature key; the storage API never signs (seed 004 authenticates
/// it with its merchant_id/merchant_key headers).
fn carat_client(
    settings: &Settings,
    carat_base_url: Url,
    jwt_key: Option<JwtKey>,
    metrics: &Metrics,
) -> anyhow::Result<CaratClient> {
    Ok(CaratClient::new(CaratClientConfig {
        base_url: carat_base_url,
        merchant_key: settings.carat.merchant_key.clone(),
        connect_timeout: settings.carat.connect_timeout,
        timeout: settings.carat.timeout,
        merchant_id: settings.carat.merchant_id.clone(),
        auth_mode: settings.carat.auth_mode,
        jwt_key,
    })?
    .with_metrics(metrics.clone()))
}

/// Card storage, calling Carat at `carat_base_url`, its calls counted in `metrics`.
pub fn card_service_with(
    settings: &Settings,
    pool: PgPool,
    carat_base_url: Url,
    metrics: &Metrics,
) -> anyhow::Result<CardService> {
    Ok(CardService::new(
        pool,
        carat_client(settings, carat_base_url, None, metrics)?,
        settings.carat.merchant_id.clone(),
        settings.cards.query_path.clone(),
        settings.cards.token_visible,
    ))
}

/// The use cases, calling Carat at `carat_base_url`.
pub fn recharge_service(
    settings: &Settings,
    pool: PgPool,
    carat_base_url: Url,
) -> anyhow::Result<RechargeService> {
    recharge_service_with(settings, pool, carat_base_url, &Metrics::default())
}

/// [`recharge_service`], its calls counted in `metrics`.
pub fn recharge_service_with(
    settings: &Settings,
    pool: PgPool,
    carat_base_url: Url,
    metrics: &Metrics,
) -> anyhow::Result<RechargeService> {
    let jwt_key = settings.carat.jwt_key.clone();
    let carat = carat_client(settings, carat_base_url, jwt_key, metrics)?;
    let timing = Timing {
        call_timeout: settings.carat.timeout,
        call_grace: settings.carat.call_grace,
        nit_lifetime: settings.carat.nit_lifetime,
        pending_timeout: settings.reconcile.pending_timeout,
        poll: Duration::from_millis(50),
    };
    Ok(RechargeService::new(
        pool,
        carat,
        timing,
        settings.carat.pin_keys.clone(),
    ))
}

pub fn reconciler(settings: &Settings, recharges: RechargeService) -> Reconciler {
    Reconciler::new(
        recharges,
        ReconcilerConfig {
            instance_id: settings.reconcile.instance_id.clone(),
            interval: settings.reconcile.interval,
            max_backoff: settings.reconcile.max_backoff,
            policy: settings.reconcile.pending_policy,
            batch: 16,
        },
    )
}

/// One span per request, with its `X-Request-Id` (set by [`request_id::set_and_echo`], outside
/// this layer), carrying the recharge id and NIT once a handler knows them. The query string is
/// left out: Carat's query call carries the merchant key there. Its access line has
/// `latency_ms` as a number and a level by who is at fault ([`AccessLog`]).
pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    AccessLog,
    tower_http::trace::DefaultOnBodyChunk,
    tower_http::trace::DefaultOnEos,
    FailureLog,
> {
    let layer = TraceLayer::new_for_http()
        .on_response(AccessLog)
        .on_failure(FailureLog);
    layer.make_span_with(|req: &Request| {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| unmatched_route(req.uri().path()));
        tracing::info_span!(
            "request",
            method = %req.method(),
            route,
            request_id = req
                .headers()
                .get(X_REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default(),
            recharge_id = tracing::field::Empty,
            nit = tracing::field::Empty,
            // What a callback found (`committed`, `replayed`, ...): the access line says it,
            // so a callback that goes as expected logs one line, not two.
            outcome = tracing::field::Empty,
        )
    })
}

/// An unmatched path, as logged: under `/callbacks/` it may hold the path secret (a near miss
/// like a trailing slash), so only the prefix is kept.
fn unmatched_route(path: &str) -> String {
    if path.starts_with("/callbacks/") {
        "/callbacks/…".to_owned()
    } else {
        path.to_owned()
    }
}

/// The address this process can reach itself on: a wildcard bind is reached on loopback.
pub fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tracing_subscriber::layer::SubscriberExt;

    use super::*;

    /// Counts the WARN events logged while `f` runs, on this thread.
    struct WarnCount(Arc<AtomicUsize>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for WarnCount {
        fn on_event(
            &self,
            event: &tracing::Event<'_>,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }

    fn warnings(f: impl FnOnce()) -> usize {
        let count = Arc::new(AtomicUsize::new(0));
        let subscriber = tracing_subscriber::registry().with(WarnCount(count.clone()));
        tracing::subscriber::with_default(subscriber, f);
        count.load(Ordering::SeqCst)
    }

    #[test]
    fn the_plain_loopback_warning_is_logged_once_not_per_client() {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        let settings = Settings::load_from(&dir, |_| None).unwrap();
        let metrics = Metrics::default();
        let loopback = Url::parse("http://127.0.0.1:1/e-sitef").unwrap();
        // What `build_on` does: one warning, then a client for the cards and one for the
        // recharges, which warn no more.
        let n = warnings(|| {
            carat_core::carat::client::warn_if_plain_loopback(&loopback);
            carat_client(&settings, loopback.clone(), None, &metrics).unwrap();
            let jwt_key = settings.carat.jwt_key.clone();
            carat_client(&settings, loopback.clone(), jwt_key, &metrics).unwrap();
        });
        assert_eq!(n, 1);
        let https = Url::parse("https://example.test/e-sitef").unwrap();
        assert_eq!(
            warnings(|| carat_core::carat::client::warn_if_plain_loopback(&https)),
            0
        );
    }
}
