//! `carat-merchant serve | sandbox | migrate | reconcile | homologate | health | openapi`.

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use tokio::net::TcpListener;

use carat_merchant::config::{self, Settings};
use carat_merchant::startup::{self, Application};
use carat_merchant::telemetry;
use carat_merchant::{health, homologation};
use carat_sandbox::{self as sandbox, Sandbox, SandboxConfig};
use carat_store as store;

#[derive(Parser)]
#[command(
    version,
    about = "The merchant's side of Carat Portal's REST recharge interface"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the service (the default). With SANDBOX=embedded and no CARAT_BASE_URL it embeds the
    /// sandbox.
    Serve,
    /// Run only the Carat Portal sandbox, on SANDBOX_LISTEN_ADDR (the `carat-sandbox` binary
    /// does the same with flags, and lists the test values).
    Sandbox,
    /// Create the database if missing, apply the migrations, and exit.
    Migrate,
    /// Run one reconcile pass against CARAT_BASE_URL, print what it did, and exit (for
    /// operators and cron; `serve` reconciles continuously).
    Reconcile,
    /// GET this host's /health/ready (or /health/live) and exit 0 when it answers 200, else 1:
    /// the container's HEALTHCHECK (the image has no curl). Reads only LISTEN_ADDR (default
    /// 127.0.0.1:8080; a wildcard address is reached on loopback) and TLS_CERT_PATH (when set,
    /// HTTPS, accepting exactly the certificate that file holds), not the rest of the
    /// configuration.
    Health {
        /// Probe /health/live instead of /health/ready.
        #[arg(long)]
        live: bool,
        /// The URL to GET instead, e.g. http://127.0.0.1:8080/health/ready.
        #[arg(long)]
        url: Option<String>,
    },
    /// Run Carat's homologation script end to end through this service, serving its callbacks
    /// on LISTEN_ADDR, and write the evidence to send Carat (docs/going-live.md). Exit 0 when
    /// no case fails, 1 when one does, 2 when the run cannot start, 130 when interrupted.
    Homologate {
        /// Where report.json, report.md and report.html are written.
        #[arg(long, value_name = "DIR", required_unless_present = "list")]
        report: Option<std::path::PathBuf>,
        /// Print the cases, with their sources, and exit.
        #[arg(long)]
        list: bool,
        /// Run only these cases (names as --list prints them, comma-separated).
        #[arg(long, value_name = "NAME,...")]
        only: Option<String>,
        /// Allow Carat's production (or an unknown) base URL; asks for the merchant id to
        /// confirm: these flows move real money.
        #[arg(long)]
        production: bool,
        /// The URL Carat reaches this host at, for the callback URLs to register (default:
        /// http://LISTEN_ADDR).
        #[arg(long, value_name = "URL")]
        public_url: Option<url::Url>,
        /// How long to wait for a callback Carat sends on its own (a HASH notification).
        #[arg(long, value_name = "SECONDS", default_value_t = 60)]
        callback_wait_secs: u64,
    },
    /// Print the storefront API's OpenAPI document (what GET /api/openapi.json serves) and
    /// exit, for linters and client generators; needs no configuration.
    Openapi,
}

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS stack for the whole process: rustls with ring (reqwest is built without a
    // provider of its own).
    let _ = rustls::crypto::ring::default_provider().install_default();

    // The settings table, in `--help` and `serve --help`: every variable is documented there.
    let settings_help = config::settings_help();
    let matches = Cli::command()
        .after_help(settings_help.clone())
        .mut_subcommand("serve", |serve| serve.after_help(settings_help.clone()))
        // The sandbox reads the same settings; its own binary (`carat-sandbox --help`) also
        // lists the test values.
        .mut_subcommand("sandbox", |sandbox| sandbox.after_help(settings_help))
        .get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A probe runs every few seconds next to the service: it needs no secrets or database.
    if let Some(Command::Health { live, url }) = &cli.command {
        return probe(*live, url.clone()).await;
    }
    if let Some(Command::Openapi) = &cli.command {
        let document = carat_merchant::api::openapi::document();
        println!("{document:#}");
        return ExitCode::SUCCESS;
    }
    if let Some(Command::Homologate { list: true, .. }) = &cli.command {
        print!("{}", carat_merchant::homologation::cases::table::list());
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::load() {
        Ok(settings) => settings,
        Err(errors) => {
            eprintln!("carat-merchant: the configuration is not valid:");
            for error in &errors.0 {
                eprintln!("  {error}");
            }
            return ExitCode::from(2);
        }
    };
    telemetry::init(settings.log_format, &settings.log_filter);
    if let Some(Command::Homologate {
        report: Some(report),
        only,
        production,
        public_url,
        callback_wait_secs,
        ..
    }) = cli.command
    {
        let options = homologation::Options {
            report,
            only,
            production,
            public_url,
            callback_wait: std::time::Duration::from_secs(callback_wait_secs),
        };
        return homologation::run(settings, options).await;
    }
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Sandbox => run_sandbox(settings).await,
        Command::Reconcile => reconcile(settings).await,
        Command::Health { .. } | Command::Openapi | Command::Homologate { .. } => {
            unreachable!("answered before the configuration is loaded")
        }
        Command::Migrate => {
            store::connect_and_migrate(&settings.database_url, 1, settings.database_acquire_timeout)
                .await
                .map(|_| tracing::info!("migrations applied"))
                .map_err(Into::into)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %format!("{e:#}"), "carat-merchant stopped");
            eprintln!("carat-merchant: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn probe(live: bool, url: Option<String>) -> ExitCode {
    // When the service serves TLS itself, so does the probe, pinning that certificate.
    let cert = std::env::var_os("TLS_CERT_PATH").filter(|p| !p.is_empty());
    let url = url.unwrap_or_else(|| {
        let listen = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:8080".into());
        health::probe::url(&listen, cert.is_some(), live)
    });
    let client = match health::probe::client(cert.as_deref().map(std::path::Path::new)) {
        Ok(client) => client,
        Err(e) => {
            eprintln!("carat-merchant health: {e}");
            return ExitCode::FAILURE;
        }
    };
    match client.get(&url).send().await {
        Ok(response) => {
            let ok = response.status() == reqwest::StatusCode::OK;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            println!("{status} {body}");
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("carat-merchant health: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    if let Some(cert) = app.tls() {
        reload_on_sighup(cert);
    }
    app.run_until(async {
        sandbox::shutdown_signal().await;
        tracing::info!("shutting down");
    })
    .await?;
    Ok(())
}

async fn reconcile(settings: Settings) -> anyhow::Result<()> {
    // The embedded sandbox lives in a `serve` process's memory: nothing here could query it.
    let Some(base_url) = settings.carat.base_url.clone() else {
        anyhow::bail!(
            "reconcile needs CARAT_BASE_URL: the embedded sandbox only lives inside `serve`, \
             whose own reconciler already runs"
        );
    };
    let pool =
        store::connect_and_migrate(&settings.database_url, 2, settings.database_acquire_timeout)
            .await?;
    carat_core::carat::client::warn_if_plain_loopback(&base_url);
    let service = startup::recharge_service(&settings, pool, base_url)?;
    let report = startup::reconciler(&settings, service).run_pass().await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

async fn run_sandbox(settings: Settings) -> anyhow::Result<()> {
    let listener = TcpListener::bind(settings.sandbox.listen_addr)
        .await
        .map_err(|e| {
            anyhow::anyhow!("SANDBOX_LISTEN_ADDR {}: {e}", settings.sandbox.listen_addr)
        })?;
    let jwt_public_key = settings.sandbox_jwt_public_key();
    let sandbox = Sandbox::new(SandboxConfig {
        jwt_public_key,
        jwt_max_age: sandbox::signature::DEFAULT_MAX_AGE,
        merchant_id: settings.carat.merchant_id,
        merchant_key: settings.carat.merchant_key,
        authenticity_url: Some(settings.sandbox.authenticity_url.clone()),
        nit_lifetime: settings.sandbox.nit_lifetime,
        slow_answer_delay: settings.sandbox.slow_answer_delay,
        callback_timeout: settings.sandbox.callback_timeout,
        status_url: Some(settings.sandbox.status_url.clone()),
        hash_url: Some(settings.sandbox.hash_url.clone()),
        notification_attempts: settings.sandbox.notification_attempts,
        notification_retry_delay: settings.sandbox.notification_retry_delay,
    });
    tracing::info!(
        addr = %settings.sandbox.listen_addr,
        authenticity_url = %settings.sandbox.authenticity_url,
        "Carat Portal sandbox listening"
    );
    tokio::select! {
        result = sandbox::serve(sandbox, listener) => result?,
        () = sandbox::shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}

/// SIGHUP re-reads TLS_CERT_PATH and TLS_KEY_PATH (a bad pair is logged and the old one kept).
fn reload_on_sighup(cert: std::sync::Arc<carat_merchant::tls::ReloadingCert>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "no SIGHUP handler: the certificate reloads only when its files change");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading the TLS certificate");
            let _ = cert.reload();
        }
    });
    #[cfg(not(unix))]
    let _ = cert;
}
