//! The reconciler: ends every recharge that nobody else is going to end. It runs in every
//! `serve` instance (and once, as `carat-merchant reconcile`), claims due recharges with a
//! lease taken under `FOR UPDATE SKIP LOCKED`, holds no transaction across a call to Carat,
//! and drives each one as far as it can:
//!
//! | recharge | when | what it does |
//! |---|---|---|
//! | `created` | its create's window passed | `failed` (a late authenticity POST is then refused) |
//! | `started` | older than the NIT lifetime | queries; EXP ends it `expired` |
//! | `effectuating`, `confirming`, `undoing` | the call's outcome unknown, or its deadline passed | queries; moves as Carat says; a decision Carat still holds PPC is sent again |
//! | `pending_confirmation` | `PENDING_CONFIRMATION_TIMEOUT_SECS` after the effectuation | confirms or undoes by `PENDING_CONFIRMATION_POLICY` |
//! | `pending_confirmation`, a PIN sale whose PIN was not kept | at once | undoes it, whatever the policy |
//! | `pending_confirmation` a status notification contradicted (`query_requested_at`) | at once | queries; moves as Carat says, or waits for its timeout again |
//!
//! An attempt that moves nothing (Carat unreachable, a status it cannot act on) is retried
//! after `interval * 2^attempts`, at most `max_backoff` apart, for ever. Every write is
//! guarded by the recharge's status and attempt, so a reconciler racing a storefront request,
//! or another instance whose lease ran out, can never take the same step twice.

use std::collections::HashSet;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::Instrument;

use super::confirm::Decision;
use super::{FlowError, RechargeService};
use carat_domain::reconcile::{AfterQuery, after_query, backoff};
use carat_domain::{Actor, PendingConfirmationPolicy, RechargeStatus};
use carat_store::{self as store, Changes, Guard, Recharge, Step, StoreError};

/// At most this many steps on one recharge in one pass (e.g. query, then undo).
const MAX_STEPS: usize = 4;

#[derive(Clone, Debug)]
pub struct ReconcilerConfig {
    pub instance_id: String,
    pub interval: Duration,
    pub max_backoff: Duration,
    pub policy: PendingConfirmationPolicy,
    /// How many recharges one claim takes.
    pub batch: i64,
}

#[derive(Clone, Debug)]
pub struct Reconciler {
    service: RechargeService,
    config: ReconcilerConfig,
    actor: Actor,
    heartbeat: Heartbeat,
    /// Passes and what they did ([`Self::with_metrics`]).
    metrics: crate::metrics::Metrics,
}

/// When the reconciler last claimed a batch or completed a pass, for `/health/ready`: a loop
/// that died or hangs stops beating. On a monotonic clock, so a wall-clock jump is no alarm.
#[derive(Clone, Debug)]
pub struct Heartbeat {
    since: Instant,
    /// Milliseconds after `since` of the last beat, plus one; 0 before the first.
    last: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self {
            since: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        let at = self.since.elapsed().as_millis() as u64 + 1;
        self.last.store(at, Ordering::Relaxed);
    }

    /// How long ago the last beat was; `None` before the first.
    pub fn age(&self) -> Option<Duration> {
        match self.last.load(Ordering::Relaxed) {
            0 => None,
            at => Some(
                self.since
                    .elapsed()
                    .saturating_sub(Duration::from_millis(at - 1)),
            ),
        }
    }
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    /// Recharges claimed.
    pub claimed: usize,
    /// Of those, how many ended (confirmed, undone, failed, expired).
    pub ended: usize,
    /// How many were left open: for a later attempt (Carat unreachable, nothing to act on
    /// yet), or waiting for a time (a NIT's lifetime, a pending confirmation's timeout).
    pub left_open: usize,
}

/// How one step went.
enum Progress {
    /// The recharge moved (or someone else moved it): look again.
    Moved,
    /// Nothing more to do now.
    Done,
}

impl Reconciler {
    pub fn new(service: RechargeService, config: ReconcilerConfig) -> Self {
        let actor = Actor::Reconciler(config.instance_id.clone());
        Self {
            service,
            config,
            actor,
            heartbeat: Heartbeat::default(),
            metrics: crate::metrics::Metrics::default(),
        }
    }

    /// Counts the passes in `metrics` (otherwise in a registry nobody serves).
    pub fn with_metrics(self, metrics: crate::metrics::Metrics) -> Self {
        Self { metrics, ..self }
    }

    /// Beats at each batch claimed and after each pass.
    pub fn heartbeat(&self) -> Heartbeat {
        self.heartbeat.clone()
    }

    /// How long without a beat the loop counts as stuck. It beats at each batch it claims and
    /// after each pass, so a long backlog is no alarm; between two beats, one batch may take
    /// `MAX_STEPS` calls to Carat (a call window each) per recharge, in parallel.
    pub fn stale_after(&self) -> Duration {
        self.service.timing.call_window() * (MAX_STEPS as u32 + 1) + self.config.interval * 3
    }

    /// Long enough for one step (a query and a call) with room to spare; renewed every step.
    fn lease(&self) -> Duration {
        self.service.timing.call_window() * 2 + self.config.interval
    }

    /// Passes every `interval` until `shutdown` completes. A failed pass (the database away)
    /// is logged; the next one tries again.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        tracing::info!(instance = %self.config.instance_id, interval_ms = self.config.interval.as_millis() as u64, "reconciler running");
        tokio::pin!(shutdown);
        loop {
            match self.run_pass().await {
                Ok(report) => {
                    self.heartbeat.beat();
                    self.metrics.reconcile_pass(true);
                    if report.claimed > 0 {
                        tracing::info!(?report, "reconcile pass");
                    }
                }
                Err(e) => {
                    self.metrics.reconcile_pass(false);
                    tracing::warn!(error = %e, "reconcile pass failed; will try again");
                }
            }
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(self.config.interval) => {}
            }
        }
    }

    /// One pass: claims what is due, a batch at a time, until nothing new is due.
    pub async fn run_pass(&self) -> Result<PassReport, StoreError> {
        let pool = &self.service.pool;
        let owner = &self.config.instance_id;
        let mut report = PassReport::default();
        let mut seen = HashSet::new();
        loop {
            let claimed =
                store::recharges::claim_due(pool, owner, self.lease(), self.config.batch).await?;
            // Progress: a pass working through a backlog is alive.
            self.heartbeat.beat();
            let (fresh, again): (Vec<_>, Vec<_>) =
                claimed.into_iter().partition(|r| seen.insert(r.id));
            // One look per pass: what is due again after it waits for the next pass.
            for r in again {
                store::recharges::release_lease(pool, r.id, owner).await?;
            }
            if fresh.is_empty() {
                return Ok(report);
            }
            report.claimed += fresh.len();
            self.metrics.reconcile_actions("claimed", fresh.len());
            let mut work = tokio::task::JoinSet::new();
            for recharge in fresh {
                let this = self.clone();
                let span = tracing::info_span!("reconcile", recharge_id = %recharge.id, nit = tracing::field::Empty);
                work.spawn(async move { this.work_on(recharge).await }.instrument(span));
            }
            while let Some(joined) = work.join_next().await {
                match joined {
                    Ok(Some(r)) if r.status.is_final() => {
                        report.ended += 1;
                        self.metrics.reconcile_actions("ended", 1);
                    }
                    Ok(Some(_)) => {
                        report.left_open += 1;
                        self.metrics.reconcile_actions("left_open", 1);
                    }
                    Ok(None) => {}
                    Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                    Err(_) => {}
                }
            }
        }
    }

    /// Drives one claimed recharge as far as it goes now; returns where it was left (`None`
    /// when the database failed).
    async fn work_on(&self, claimed: Recharge) -> Option<Recharge> {
        let pool = &self.service.pool;
        let owner = &self.config.instance_id;
        let id = claimed.id;
        let mut last = claimed;
        for _ in 0..MAX_STEPS {
            let leased = match store::recharges::renew_lease(pool, id, owner, self.lease()).await {
                Ok(Some(leased)) => leased,
                // Lost: another instance holds it now.
                Ok(None) => return Some(last),
                Err(e) => {
                    tracing::warn!(error = %e, "reconciler: database unavailable");
                    return None;
                }
            };
            last = leased.recharge.clone();
            if !leased.due {
                break;
            }
            match self.step(leased.recharge).await {
                Ok(Progress::Moved) => continue,
                Ok(Progress::Done) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "reconciler: database unavailable");
                    return None;
                }
            }
        }
        if let Err(e) = store::recharges::release_lease(pool, id, owner).await {
            tracing::warn!(error = %e, "reconciler: could not release a lease; it expires");
        }
        store::recharges::find(pool, id)
            .await
            .ok()
            .flatten()
            .or(Some(last))
    }

    /// One step on a due recharge. A failure to reach an end is postponed, with backoff.
    async fn step(&self, recharge: Recharge) -> Result<Progress, StoreError> {
        use RechargeStatus::*;
        if let Some(nit) = &recharge.nit {
            tracing::Span::current().record("nit", tracing::field::display(nit));
        }
        let outcome = match recharge.status {
            Created => self.abandon_create(&recharge).await,
            Started | AwaitingChoice | Effectuating | Confirming | Undoing => {
                self.resolve(&recharge).await
            }
            // A status notification contradicted it: Carat is asked first (a notification
            // never ends a recharge by itself, and never brings the policy forward).
            PendingConfirmation if recharge.query_requested_at.is_some() => {
                self.resolve_requested(&recharge).await
            }
            PendingConfirmation => {
                // A PIN sale whose PIN was not kept is undone whatever the policy.
                let decision = Decision {
                    confirm: self.config.policy.confirms() && recharge.may_be_confirmed(),
                };
                tracing::info!(policy = ?self.config.policy, confirm = decision.confirm, "pending confirmation due");
                self.send(&recharge, decision, Guard::Status).await
            }
            // Ended meanwhile.
            Confirmed | Undone | Failed | Expired => Ok(Progress::Done),
        };
        match outcome {
            Ok(progress) => Ok(progress),
            Err(FlowError::Store(e)) => Err(e),
            Err(e) => {
                self.postpone(&recharge, &e.to_string()).await?;
                Ok(Progress::Done)
            }
        }
    }

    /// No NIT came within the create's window: the create is given up.
    async fn abandon_create(&self, recharge: &Recharge) -> Result<Progress, FlowError> {
        let reason = "no NIT arrived within the create's window: the create is given up";
        let step = Step {
            changes: Changes {
                error: Some((None, Some(reason.to_owned()))),
                ..Changes::default()
            },
            detail: serde_json::json!({"reason": reason}),
            ..self.service.step(
                recharge,
                RechargeStatus::Failed,
                Guard::CallOver(recharge.attempt),
                &self.actor,
            )
        };
        store::recharges::apply(&self.service.pool, step).await?;
        Ok(Progress::Moved)
    }

    /// Asks Carat, and continues from what it says.
    async fn resolve(&self, recharge: &Recharge) -> Result<Progress, FlowError> {
        let (answer, carat) = self.service.query_carat(recharge, &self.actor).await?;
        match after_query(recharge.status, &carat) {
            AfterQuery::Move(next) => {
                self.service
                    .settle_by_query(recharge, &self.actor, answer, &carat, next)
                    .await?;
                Ok(Progress::Moved)
            }
            AfterQuery::Resend => {
                let decision = Decision {
                    confirm: recharge.status == RechargeStatus::Confirming,
                };
                self.send(recharge, decision, Guard::CallOver(recharge.attempt))
                    .await
            }
            AfterQuery::AskLater => {
                let reason = format!("Carat Portal reports status {carat}: nothing to act on yet");
                self.postpone(recharge, &reason).await?;
                Ok(Progress::Done)
            }
        }
    }

    /// Queries a recharge pending confirmation that a status notification contradicted. What
    /// Carat says settles it; if it still holds it PPC, the recharge waits for its
    /// pending-confirmation timeout as before. A failed query keeps the request (and backs off).
    async fn resolve_requested(&self, recharge: &Recharge) -> Result<Progress, FlowError> {
        let (answer, carat) = self.service.query_carat(recharge, &self.actor).await?;
        let timeout = self.service.timing.pending_timeout;
        let timeout_ms = i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX);
        match after_query(recharge.status, &carat) {
            AfterQuery::Move(next) => {
                self.service
                    .settle_by_query(recharge, &self.actor, answer, &carat, next)
                    .await?;
                store::notifications::query_request_answered(
                    &self.service.pool,
                    recharge.id,
                    recharge.attempt,
                    timeout_ms,
                )
                .await?;
                Ok(Progress::Moved)
            }
            AfterQuery::Resend | AfterQuery::AskLater => {
                tracing::info!(%carat, "requested query: Carat still holds it; waits for its timeout");
                store::notifications::query_request_answered(
                    &self.service.pool,
                    recharge.id,
                    recharge.attempt,
                    timeout_ms,
                )
                .await?;
                Ok(Progress::Done)
            }
        }
    }

    /// Sends a confirmation or undo. A call that fails leaves the recharge in doubt, to be
    /// asked about again after a backoff.
    async fn send(
        &self,
        recharge: &Recharge,
        decision: Decision,
        guard: Guard,
    ) -> Result<Progress, FlowError> {
        match self
            .service
            .send_decision(recharge, decision, None, guard, &self.actor)
            .await?
        {
            None | Some(Ok(_)) => Ok(Progress::Moved),
            Some(Err(e @ FlowError::Carat(_))) => {
                let now = self.service.load(recharge.id).await?;
                self.postpone(&now, &e.to_string()).await?;
                Ok(Progress::Done)
            }
            Some(Err(e)) => Err(e),
        }
    }

    async fn postpone(&self, recharge: &Recharge, reason: &str) -> Result<(), StoreError> {
        let delay = backoff(
            self.config.interval,
            u32::try_from(recharge.reconcile_attempts).unwrap_or(0),
            self.config.max_backoff,
        );
        tracing::info!(
            status = %recharge.status,
            attempts = recharge.reconcile_attempts + 1,
            delay_ms = delay.as_millis() as u64,
            reason,
            "reconciler: will try again"
        );
        store::recharges::postpone(
            &self.service.pool,
            recharge.id,
            recharge.status,
            recharge.attempt,
            delay,
            reason,
        )
        .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_heartbeat_has_no_age_before_its_first_beat() {
        let h = super::Heartbeat::default();
        assert_eq!(h.age(), None);
        h.clone().beat();
        assert!(
            h.age().unwrap() < std::time::Duration::from_secs(5),
            "clones share the beat"
        );
    }
}
