//! Wiring: the database, the Carat client (or the embedded sandbox), the routers and the
//! listener.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use url::Url;

use crate::api::{self, AppState, error::ApiError};
use crate::callbacks::{self, CallbackState};
use crate::carat::{CaratClient, CaratClientConfig};
use crate::config::Settings;
use crate::recharge::{RechargeService, Reconciler, ReconcilerConfig, Timing};
use crate::sandbox::{Sandbox, SandboxConfig};
use crate::store;

/// How often each `serve` process deletes idempotency keys past their TTL (and once at start).
/// Keys are kept for hours and an expired one is treated as new whether purged or not, so
/// this only bounds the table's size.
const IDEMPOTENCY_PURGE_INTERVAL: Duration = Duration::from_secs(15 * 60);

pub struct Application {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
    pool: PgPool,
    /// The background reconciler, when `RECONCILE_ENABLED`.
    reconciler: Option<Reconciler>,
    idempotency_ttl: Duration,
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
        let pool = store::connect_and_migrate(
            &settings.database_url,
            settings.database_max_connections,
            settings.database_acquire_timeout,
        )
        .await?;

        // Without CARAT_BASE_URL the sandbox plays Carat in this process, and its
        // authenticity POST comes back to this very listener.
        let own_url = format!("http://{}", reachable(local_addr));
        let (carat_base_url, sandbox) = match &settings.carat.base_url {
            Some(url) => (url.clone(), None),
            None => {
                let sandbox = Sandbox::new(SandboxConfig {
                    merchant_id: settings.carat.merchant_id.clone(),
                    merchant_key: settings.carat.merchant_key.clone(),
                    authenticity_url: Some(Url::parse(&format!(
                        "{own_url}/callbacks/authenticity"
                    ))?),
                    nit_lifetime: settings.sandbox.nit_lifetime,
                    slow_answer_delay: settings.sandbox.slow_answer_delay,
                    callback_timeout: settings.sandbox.callback_timeout,
                });
                (Url::parse(&format!("{own_url}/e-sitef"))?, Some(sandbox))
            }
        };
        let recharges = recharge_service(&settings, pool.clone(), carat_base_url.clone())?;
        let reconciler = settings
            .reconcile
            .enabled
            .then(|| reconciler(&settings, recharges.clone()));

        let mut router = Router::new()
            .merge(api::router(AppState {
                recharges,
                api_tokens: settings.api_tokens.clone(),
                idempotency_ttl: settings.idempotency_ttl,
            }))
            .merge(callbacks::router(CallbackState {
                pool: pool.clone(),
                merchant_id: settings.carat.merchant_id.clone(),
                nit_lifetime: settings.carat.nit_lifetime,
            }))
            .route("/health", get(health).with_state(pool.clone()));
        if let Some(sandbox) = &sandbox {
            router = router.merge(sandbox.router());
        }
        let router = router.fallback(not_found).layer(trace_layer());

        tracing::info!(
            %local_addr,
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
            reconciler,
            idempotency_ttl: settings.idempotency_ttl,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Serves, and reconciles, until `shutdown` completes.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        if let Some(reconciler) = self.reconciler {
            let mut stopped = stopped.clone();
            tokio::spawn(reconciler.run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }));
        }
        // Expired idempotency keys go whether or not this process reconciles.
        let mut purge_stopped = stopped.clone();
        tokio::spawn(api::idempotency::purge_periodically(
            self.pool.clone(),
            self.idempotency_ttl,
            IDEMPOTENCY_PURGE_INTERVAL,
            async move {
                let _ = purge_stopped.wait_for(|s| *s).await;
            },
        ));
        // The peer's address goes into the callback inbox.
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(self.listener, service)
            .with_graceful_shutdown(async move {
                shutdown.await;
                let _ = stop.send(true);
            })
            .await
    }
}

/// The use cases, calling Carat at `carat_base_url`.
pub fn recharge_service(
    settings: &Settings,
    pool: PgPool,
    carat_base_url: Url,
) -> anyhow::Result<RechargeService> {
    let carat = CaratClient::new(CaratClientConfig {
        base_url: carat_base_url,
        merchant_key: settings.carat.merchant_key.clone(),
        connect_timeout: settings.carat.connect_timeout,
        timeout: settings.carat.timeout,
    })?;
    let timing = Timing {
        call_timeout: settings.carat.timeout,
        call_grace: settings.carat.call_grace,
        nit_lifetime: settings.carat.nit_lifetime,
        pending_timeout: settings.reconcile.pending_timeout,
        poll: Duration::from_millis(50),
    };
    Ok(RechargeService::new(pool, carat, timing))
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

/// One span per request, carrying the recharge id and NIT once a handler knows them. The
/// query string is left out: Carat's query call carries the merchant key there.
pub fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request) -> tracing::Span + Clone,
    tower_http::trace::DefaultOnRequest,
    DefaultOnResponse,
> {
    let layer = TraceLayer::new_for_http().on_response(
        DefaultOnResponse::new()
            .level(tracing::Level::INFO)
            .latency_unit(tower_http::LatencyUnit::Millis),
    );
    layer.make_span_with(|req: &Request| {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| req.uri().path().to_owned());
        tracing::info_span!(
            "request",
            method = %req.method(),
            route,
            request_id = %uuid::Uuid::new_v4().simple(),
            recharge_id = tracing::field::Empty,
            nit = tracing::field::Empty,
        )
    })
}

async fn health(State(pool): State<PgPool>) -> impl IntoResponse {
    match sqlx::query("SELECT 1").execute(&pool).await {
        Ok(_) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        ),
        Err(e) => {
            tracing::error!(error = %e, "health: database unreachable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "database unavailable"})),
            )
        }
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such route".into())
}

/// The address this process can reach itself on: a wildcard bind is reached on loopback.
fn reachable(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}
