//! The script run case by case: a progress line each, every sale ended after each case, and a
//! stop asked for (SIGINT, SIGTERM) honoured between cases, never inside one.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::Utc;

use super::cases::{self, CaseEnd, CaseId, Ctx, Doors};
use super::evidence::{CaseReport, Outcome};
use super::inputs::Inputs;
use super::{progress, settle};

/// Whether the run was asked to stop. The case under way finishes and its sales end; the cases
/// not begun are skipped. A second signal exits at once: what is open is then the
/// reconciler's, in any `serve` on the same database.
#[derive(Clone, Default)]
pub struct Interruption(Arc<AtomicBool>);

impl Interruption {
    /// Listens from now on: the handlers are in place before this returns, so a signal sent
    /// once the first case is announced is never the default one (which would kill the run).
    pub fn watch() -> Self {
        let interruption = Self::default();
        let asked = interruption.0.clone();
        let mut signals = Signals::listen();
        tokio::spawn(async move {
            signals.next().await;
            asked.store(true, Ordering::SeqCst);
            eprintln!(
                "interrupted: finishing the case under way and ending its sales (again to exit \
                 at once, leaving them to the reconciler)"
            );
            signals.next().await;
            eprintln!("interrupted again: exiting; the reconciler ends what is open");
            std::process::exit(130);
        });
        interruption
    }

    pub fn asked(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// SIGINT and SIGTERM, registered at once.
struct Signals {
    #[cfg(unix)]
    streams: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let streams = signal(SignalKind::interrupt())
                .ok()
                .zip(signal(SignalKind::terminate()).ok());
            Self { streams }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next signal; never, when the handlers could not be installed.
    async fn next(&mut self) {
        #[cfg(unix)]
        match &mut self.streams {
            Some((interrupt, terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            None => std::future::pending().await,
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs `selected` in order, each ended before the next begins.
pub async fn run(
    doors: &Doors,
    inputs: &Inputs,
    selected: &[CaseId],
    run_id: &str,
    interruption: &Interruption,
) -> Vec<CaseReport> {
    let total = selected.len();
    let mut reports = Vec::new();
    for (i, case) in selected.iter().enumerate() {
        if interruption.asked() {
            reports.push(not_begun(*case));
            continue;
        }
        println!("{}", progress::started(i + 1, total, case.name()));
        let report = run_case(doors, inputs, run_id, i + 1, *case).await;
        let elapsed = Duration::from_millis(report.elapsed_ms);
        println!(
            "{}",
            progress::finished(
                i + 1,
                total,
                case.name(),
                report.outcome,
                elapsed,
                report.reason.as_deref()
            )
        );
        reports.push(report);
    }
    reports
}

async fn run_case(
    doors: &Doors,
    inputs: &Inputs,
    run_id: &str,
    no: usize,
    case: CaseId,
) -> CaseReport {
    let started_at = Utc::now();
    let clock = Instant::now();
    let mut ctx = Ctx::new(doors, inputs, run_id, no);
    let ended = cases::run(case, &mut ctx).await;
    // Every sale ends, whatever the case did.
    let sales = settle::sales(&mut ctx).await;
    let cards = settle::cards(&ctx).await;
    let (outcome, reason) = match ended {
        Ok(()) => (Outcome::Pass, None),
        Err(CaseEnd::Skip(reason)) => (Outcome::Skipped, Some(reason)),
        Err(CaseEnd::Fail(reason)) => (Outcome::Fail, Some(reason)),
    };
    CaseReport {
        name: case.name().to_owned(),
        title: case.title().to_owned(),
        source: case.source().to_owned(),
        simulated: ctx.simulated.take(),
        outcome,
        reason,
        started_at,
        elapsed_ms: u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX),
        steps: std::mem::take(&mut ctx.steps),
        sales,
        cards,
    }
}

fn not_begun(case: CaseId) -> CaseReport {
    CaseReport {
        name: case.name().to_owned(),
        title: case.title().to_owned(),
        source: case.source().to_owned(),
        simulated: None,
        outcome: Outcome::Skipped,
        reason: Some("not begun: the run was interrupted".to_owned()),
        started_at: Utc::now(),
        elapsed_ms: 0,
        steps: Vec::new(),
        sales: Vec::new(),
        cards: Vec::new(),
    }
}

/// Eight characters unique to the run: order and customer ids are made from it.
pub fn run_id() -> String {
    let seconds = Utc::now().timestamp().unsigned_abs();
    let mut id = String::new();
    let mut n = seconds ^ u64::from(rand::random::<u16>()) << 32;
    for _ in 0..8 {
        let digit = u32::try_from(n % 36).unwrap_or(0);
        id.push(
            char::from_digit(digit, 36)
                .unwrap_or('0')
                .to_ascii_uppercase(),
        );
        n /= 36;
    }
    id
}
