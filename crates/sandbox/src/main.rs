//! `carat-sandbox`: a strict local Carat Portal on its own, for any store's tests, whatever
//! language it is written in. Every setting is a flag or an environment variable.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use tokio::net::TcpListener;
use url::Url;

use carat_domain::{MerchantId, Secret};
use carat_sandbox::{Sandbox, SandboxConfig, shutdown_signal, signature, test_values};
use carat_wire::signature::JwtPublicKey;

#[derive(Parser)]
#[command(
    version,
    about = "A strict local Carat Portal (REST recharge, card storage) with fault injection",
    long_about = "A strict local Carat Portal: the REST recharge interface (/e-sitef/v3/...) and \
                  card storage (/e-sitef/api/v1/cards), every field held to its documented \
                  format, the authenticity POST sent during the create, status and HASH \
                  notifications POSTed to the store. State lives in memory."
)]
struct Args {
    /// Where it listens.
    #[arg(long, env = "SANDBOX_LISTEN_ADDR", default_value = "127.0.0.1:8090")]
    listen_addr: SocketAddr,
    /// The merchant id it knows (sent as merchantId in the authenticity POST).
    #[arg(long, env = "CARAT_MERCHANT_ID", default_value = "LOJATESTE")]
    merchant_id: String,
    /// The only merchant key it accepts.
    #[arg(long, env = "CARAT_MERCHANT_KEY", hide_env_values = true)]
    merchant_key: String,
    /// Where it POSTs the NIT during a create (the store's authenticity URL).
    #[arg(
        long,
        env = "SANDBOX_AUTHENTICITY_URL",
        default_value = "http://127.0.0.1:8080/callbacks/authenticity"
    )]
    authenticity_url: Url,
    /// Where it POSTs status notifications.
    #[arg(
        long,
        env = "SANDBOX_STATUS_URL",
        default_value = "http://127.0.0.1:8080/callbacks/status"
    )]
    status_url: Url,
    /// Where it POSTs HASH notifications (card storage).
    #[arg(
        long,
        env = "SANDBOX_HASH_URL",
        default_value = "http://127.0.0.1:8080/callbacks/hash"
    )]
    hash_url: Url,
    /// A NIT's lifetime, in seconds: a NOV transaction older than this becomes EXP.
    #[arg(long, env = "SANDBOX_NIT_LIFETIME_SECS", default_value_t = 900)]
    nit_lifetime_secs: u64,
    /// How long the slow test values and the Slow fault wait, in milliseconds.
    #[arg(long, env = "SANDBOX_SLOW_ANSWER_DELAY_MS", default_value_t = 35_000)]
    slow_answer_delay_ms: u64,
    /// Timeout of the authenticity POST and of each notification POST, in milliseconds.
    #[arg(long, env = "SANDBOX_CALLBACK_TIMEOUT_MS", default_value_t = 5_000)]
    callback_timeout_ms: u64,
    /// POSTs per notification at most, the first included.
    #[arg(long, env = "SANDBOX_NOTIFICATION_ATTEMPTS", default_value_t = 3)]
    notification_attempts: u32,
    /// The wait between two POSTs of one notification, in milliseconds.
    #[arg(long, env = "SANDBOX_NOTIFICATION_RETRY_MS", default_value_t = 2_000)]
    notification_retry_ms: u64,
    /// The merchant's RSA public key (PEM, SPKI or PKCS#1: the PEM itself or a file path)
    /// that signed calls are verified with; without it, every signed call is refused.
    #[arg(long, env = "SANDBOX_JWT_PUBLIC_KEY")]
    jwt_public_key: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    // One TLS stack for the whole process: rustls with ring.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let command = <Args as clap::CommandFactory>::command().after_help(test_values::help());
    let matches = command.get_matches();
    let args =
        <Args as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carat-sandbox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn config(args: &Args) -> anyhow::Result<SandboxConfig> {
    let merchant_id = MerchantId::parse(args.merchant_id.clone())
        .map_err(|e| anyhow::anyhow!("CARAT_MERCHANT_ID {e}"))?;
    let jwt_public_key = args
        .jwt_public_key
        .as_deref()
        .map(JwtPublicKey::load)
        .transpose()
        .map_err(|e| anyhow::anyhow!("SANDBOX_JWT_PUBLIC_KEY: {e}"))?;
    Ok(SandboxConfig {
        merchant_id,
        merchant_key: Secret::new(args.merchant_key.clone()),
        authenticity_url: Some(args.authenticity_url.clone()),
        nit_lifetime: Duration::from_secs(args.nit_lifetime_secs),
        slow_answer_delay: Duration::from_millis(args.slow_answer_delay_ms),
        callback_timeout: Duration::from_millis(args.callback_timeout_ms),
        status_url: Some(args.status_url.clone()),
        hash_url: Some(args.hash_url.clone()),
        notification_attempts: args.notification_attempts,
        notification_retry_delay: Duration::from_millis(args.notification_retry_ms),
        jwt_public_key,
        jwt_max_age: signature::DEFAULT_MAX_AGE,
    })
}

async fn run(args: Args) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(config(&args)?);
    let listener = TcpListener::bind(args.listen_addr)
        .await
        .map_err(|e| anyhow::anyhow!("SANDBOX_LISTEN_ADDR {}: {e}", args.listen_addr))?;
    tracing::info!(
        addr = %listener.local_addr()?,
        authenticity_url = %args.authenticity_url,
        "Carat Portal sandbox listening"
    );
    tokio::select! {
        result = carat_sandbox::serve(sandbox, listener) => result?,
        () = shutdown_signal() => tracing::info!("shutting down"),
    }
    Ok(())
}
