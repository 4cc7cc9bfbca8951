//! `carat-merchant homologate`: runs Carat's certification flows end to end through this
//! service's own use cases, and writes the evidence a merchant sends to Carat.
//!
//! The run serves the service itself on `LISTEN_ADDR` (Carat's callbacks must reach it), so
//! the evidence is of the code that goes live. Each case is the storefront of its sales; every
//! sale ends confirmed or undone, and the report says how.

pub mod cases;
mod ending;
pub mod evidence;
pub mod inputs;
mod preflight;
mod progress;
pub mod report;
pub mod safety;
mod script;
mod settle;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use chrono::Utc;
use url::Url;

use crate::config::Settings;
use crate::startup::{self, Application};
use cases::Doors;
use evidence::{Environment, Report, Summary};
use inputs::Inputs;
use safety::Target;

/// What the command line asked for.
#[derive(Clone, Debug)]
pub struct Options {
    pub report: PathBuf,
    pub only: Option<String>,
    pub production: bool,
    /// The URL Carat reaches this host at; default `http://LISTEN_ADDR`.
    pub public_url: Option<Url>,
    /// How long to wait for a callback Carat sends on its own.
    pub callback_wait: Duration,
}

/// Exit codes: 0 no case failed, 1 a case failed, 2 the run could not start, 130 it was
/// interrupted ([`exit_code`]).
pub async fn run(settings: Settings, options: Options) -> ExitCode {
    match run_checked(settings, options).await {
        Ok(code) => code,
        Err(refusal) => {
            eprintln!("carat-merchant homologate: {refusal:#}");
            ExitCode::from(2)
        }
    }
}

async fn run_checked(settings: Settings, options: Options) -> anyhow::Result<ExitCode> {
    let selected = cases::table::select(options.only.as_deref()).map_err(anyhow::Error::msg)?;
    let target = Target::of(settings.carat.base_url.as_ref());
    refuse_production(&settings, &options, target)?;
    let started_at = Utc::now();
    let started = start(&settings, &options).await?;
    let services = &started.services;
    print_preflight(&started.preflight, &started.callback_urls);

    let run_id = script::run_id();
    let interruption = script::Interruption::watch();
    let inputs = Inputs::read(|k| std::env::var(k).ok(), services.sandbox.is_some());
    let mut cases_run = Vec::new();
    if started.preflight.iter().all(|c| c.ok) {
        let doors = doors(&settings, services.clone(), options.callback_wait);
        cases_run = script::run(&doors, &inputs, &selected, &run_id, &interruption).await;
    } else {
        eprintln!("a check failed: no case was run");
    }
    let _ = started.stop.send(());
    let _ = started.serving.await;

    let environment = Environment {
        carat_url: preflight::redacted(&services.carat_base_url),
        sandbox: services.sandbox.is_some(),
        merchant_id: settings.carat.merchant_id.as_str().to_owned(),
        auth_mode: settings.carat.auth_mode.as_str().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        run_id,
        interrupted: interruption.asked(),
        callback_urls: started.callback_urls,
        started_at,
        finished_at: Utc::now(),
    };
    let report = Report {
        environment,
        summary: Summary::of(&cases_run),
        preflight: started.preflight,
        cases: cases_run,
    };
    write_report(&settings, &options, &inputs, &report)?;
    println!("{}", progress::summary(report.summary));
    Ok(exit_code(&report))
}

/// The service serving for the run, and what was checked before the first case.
struct Started {
    services: startup::Services,
    preflight: Vec<evidence::Check>,
    callback_urls: Vec<evidence::CallbackUrl>,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Starts the service itself (its database, its callbacks and, without CARAT_BASE_URL, the
/// embedded sandbox), then checks what the cases need. A database that cannot be reached
/// stops the run here.
async fn start(settings: &Settings, options: &Options) -> anyhow::Result<Started> {
    let app = match Application::build(settings.clone()).await {
        Ok(app) => app,
        Err(e) => anyhow::bail!("the database or the listener: {e:#}"),
    };
    let mut checks = vec![
        preflight::settings(settings, app.local_addr()),
        evidence::Check {
            name: "banco de dados / database".into(),
            ok: true,
            detail: "connected, migrations applied".into(),
        },
    ];
    let services = app.services();
    let public_url = match &options.public_url {
        Some(url) => url.clone(),
        None => {
            let scheme = if app.tls().is_some() { "https" } else { "http" };
            let addr = startup::reachable(app.local_addr());
            Url::parse(&format!("{scheme}://{addr}/"))?
        }
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let carat = "Carat: alcance e TLS / reachability and TLS";
    checks.push(preflight::reachable(carat, &services.carat_base_url).await);
    // The embedded sandbox, or a sandbox on this machine, reaches loopback; Carat does not.
    let base_url = settings.carat.base_url.as_ref();
    let carat_is_local =
        services.sandbox.is_some() || base_url.is_some_and(carat_core::carat::client::is_loopback);
    checks.push(preflight::callbacks_reach_us(&public_url, carat_is_local).await);
    Ok(Started {
        callback_urls: preflight::callback_urls(&public_url, settings),
        services,
        preflight: checks,
        stop,
        serving,
    })
}

/// 0 when no case failed, 1 when one did, 2 when a check stopped the run before the cases,
/// 130 when it was interrupted (what a shell reports for Ctrl-C).
fn exit_code(report: &Report) -> ExitCode {
    if !report.preflight.iter().all(|c| c.ok) {
        ExitCode::from(2)
    } else if report.summary.failed > 0 {
        ExitCode::FAILURE
    } else if report.environment.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    }
}

fn refuse_production(settings: &Settings, options: &Options, target: Target) -> anyhow::Result<()> {
    let url = settings
        .carat
        .base_url
        .as_ref()
        .map(preflight::redacted)
        .unwrap_or_default();
    if let Some(refusal) = safety::refusal(target, options.production, &url) {
        anyhow::bail!(refusal);
    }
    if target.moves_real_money() {
        let merchant_id = settings.carat.merchant_id.as_str();
        let stdin = std::io::stdin();
        if !safety::confirmed(merchant_id, &mut stdin.lock(), &mut std::io::stderr()) {
            anyhow::bail!("--production was not confirmed: nothing was run");
        }
    }
    Ok(())
}

fn doors(settings: &Settings, services: startup::Services, callback_wait: Duration) -> Doors {
    // An owner of its own: beside the background reconciler of the same process, a lease
    // either one holds keeps the other off the recharge.
    let mut own = settings.clone();
    own.reconcile.instance_id = format!("{}-homologation", settings.reconcile.instance_id);
    Doors {
        reconciler: startup::reconciler(&own, services.recharges.clone()),
        recharges: services.recharges,
        cards: services.cards,
        callbacks: services.callbacks,
        sandbox: services.sandbox,
        auth_mode: settings.carat.auth_mode,
        callback_wait,
    }
}

fn print_preflight(checks: &[evidence::Check], urls: &[evidence::CallbackUrl]) {
    for check in checks {
        let word = if check.ok { "ok" } else { "FAILED" };
        println!("check {}: {word}: {}", check.name, check.detail);
    }
    println!("register these URLs with Carat:");
    for url in urls {
        println!("  {:<13} {}", url.callback, url.url);
    }
}

/// Writes the three files, after checking that no secret the run knows is in them.
fn write_report(
    settings: &Settings,
    options: &Options,
    inputs: &Inputs,
    report: &Report,
) -> anyhow::Result<()> {
    let json = serde_json::to_string(report)?;
    let mut secrets = vec![settings.carat.merchant_key.expose().to_owned()];
    secrets.extend(
        settings
            .callbacks
            .path_secret
            .as_ref()
            .map(|s| s.expose().to_owned()),
    );
    secrets.extend(inputs.secrets());
    // Shorter values (a security code) would match timestamps; the history redacts them.
    let leaks = |s: &String| s.len() >= 6 && json.contains(s.as_str());
    if secrets.iter().any(leaks) {
        anyhow::bail!("the report would hold a secret: it was not written");
    }
    let written = report::write(&options.report, report)?;
    println!("report: {}", written.html.display());
    Ok(())
}
