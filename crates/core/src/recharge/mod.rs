//! The recharge use cases: begin, list dealers and branch data, effectuate, confirm or undo,
//! resolving a call whose outcome is unknown by querying Carat, and the reconciler that ends
//! every recharge nobody else ends.
//!
//! The rules this module keeps:
//! * a state change is committed before the call that depends on it goes out, and the call's
//!   outcome is committed before the storefront hears of it;
//! * a money-moving call (effectuate, confirm, undo) bumps the recharge's `attempt`, and every
//!   write that records its outcome is guarded by that attempt: a late answer, or a stale
//!   request, never overwrites a newer one;
//! * a lost answer leaves the recharge in doubt (`outcome_unknown`) and only a query to Carat
//!   moves it on; an effectuation is sent again only when Carat says it never happened (NOV);
//! * every step is a conditional update (`WHERE status = .. AND attempt = ..`), so two
//!   requests, two instances or two reconcilers cannot both take the same step;
//! * the use cases that call Carat run in a task of their own, so a storefront that hangs up
//!   cannot stop one half way between the call and the record of its outcome.

mod answer;
mod begin;
mod catalog;
mod catalog_check;
mod catalogue_cache;
mod confirm;
mod effectuate;
mod error;
mod kinds;
mod payment;
mod payment_methods;
mod pin_receipts;
mod reconcile;
mod resolve;
mod resubmit;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use tracing::Instrument;
use uuid::Uuid;

pub use catalog::{BranchData, Dealers};
pub use effectuate::EffectuateRequest;
pub use error::{CaratFailure, CaratProblem, FlowError};
pub use kinds::Chosen;
pub use kinds::invoice::{BillListing, InvoiceRequest};
pub use kinds::others::OthersEffectuateRequest;
pub use payment::PaymentChoice;
pub use pin_receipts::{PinReceipt, Receipts, pin_receipt_state};
pub use reconcile::{Heartbeat, PassReport, Reconciler, ReconcilerConfig};
pub use resubmit::TvChoice;

use crate::carat::{CaratClient, Exchange};
use carat_domain::receipt_cipher::Keyring;
use carat_domain::{Actor, RechargeStatus};
use carat_store::{self as store, Changes, Event, Guard, NextAttempt, Recharge, Step};

/// How long things take, and may take.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The Carat client's total timeout.
    pub call_timeout: Duration,
    /// Past the timeout, before a call counts as over for sure: clock skew between instances,
    /// the time to commit its outcome.
    pub call_grace: Duration,
    /// A NIT's lifetime at Carat.
    pub nit_lifetime: Duration,
    /// How long a recharge may stay pending confirmation, from its effectuation.
    pub pending_timeout: Duration,
    /// How often a waiting request looks again at a call another request has out.
    pub poll: Duration,
}

impl Timing {
    /// From a call going out until it is over for sure.
    pub fn call_window(&self) -> Duration {
        self.call_timeout + self.call_grace
    }

    /// When the reconciler looks at a recharge that just reached `status` if nothing else
    /// moves it.
    fn next_for(&self, status: RechargeStatus) -> NextAttempt {
        use RechargeStatus::*;
        match status {
            s if s.is_final() => NextAttempt::Never,
            // Nothing is charged while Carat waits for a TV package: looked at (queried) when
            // the NIT would expire, like a recharge never effectuated.
            Started | AwaitingChoice => NextAttempt::AfterStart(self.nit_lifetime),
            PendingConfirmation => NextAttempt::AfterEffectuation(self.pending_timeout),
            // created, or a call going out: once it is over for sure.
            _ => NextAttempt::In(self.call_window()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RechargeService {
    pool: PgPool,
    carat: CaratClient,
    timing: Timing,
    /// Seals and opens the receipts that carry a PIN.
    pin_keys: Arc<Keyring>,
}

impl RechargeService {
    pub fn new(pool: PgPool, carat: CaratClient, timing: Timing, pin_keys: Arc<Keyring>) -> Self {
        Self {
            pool,
            carat,
            timing,
            pin_keys,
        }
    }

    /// The Carat client for `recharge`'s calls: signed if, and only if, it was created in
    /// signature mode (whatever `CARAT_AUTH_MODE` says now).
    fn carat_for(&self, recharge: &Recharge) -> CaratClient {
        self.carat.for_recharge(recharge.auth_mode)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Whether a recharge with this id exists (a path names one before its body is read).
    pub async fn exists(&self, id: Uuid) -> Result<bool, FlowError> {
        Ok(store::recharges::find(&self.pool, id).await?.is_some())
    }

    /// The operators' listing: recharges matching `filter`, newest first, after `after`.
    pub async fn list(
        &self,
        filter: &store::recharge_list::Filter,
        after: Option<store::recharge_list::Key>,
        limit: i64,
    ) -> Result<Vec<Recharge>, FlowError> {
        Ok(store::recharge_list::list(&self.pool, filter, after, limit).await?)
    }

    /// The recharge and its history.
    pub async fn get(&self, id: Uuid) -> Result<(Recharge, Vec<Event>), FlowError> {
        let recharge = self.load(id).await?;
        let events = store::recharges::events(&self.pool, id).await?;
        Ok((recharge, events))
    }

    async fn load(&self, id: Uuid) -> Result<Recharge, FlowError> {
        let recharge = store::recharges::find(&self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        // The request's span carries both ids from here on.
        let span = tracing::Span::current();
        span.record("recharge_id", tracing::field::display(recharge.id));
        if let Some(nit) = &recharge.nit {
            span.record("nit", tracing::field::display(nit));
        }
        Ok(recharge)
    }

    /// A step from `from` to `to` with nothing else written; callers fill in the rest.
    fn step(&self, recharge: &Recharge, to: RechargeStatus, guard: Guard, actor: &Actor) -> Step {
        Step {
            id: recharge.id,
            from: recharge.status,
            to,
            guard,
            call_window: None,
            next: self.timing.next_for(to),
            changes: Changes::default(),
            actor: actor.clone(),
            call: None,
            detail: serde_json::json!({}),
        }
    }

    /// A step that sends a money-moving call: the attempt is bumped and the call is out until
    /// its window closes.
    fn call_step(
        &self,
        recharge: &Recharge,
        to: RechargeStatus,
        guard: Guard,
        actor: &Actor,
    ) -> Step {
        Step {
            call_window: Some(self.timing.call_window()),
            next: NextAttempt::In(self.timing.call_window()),
            ..self.step(recharge, to, guard, actor)
        }
    }

    /// Takes a step that may lose a race (another request, instance or reconciler moved the
    /// recharge first): `attempt` runs on the stored recharge, and once more on a fresh read
    /// if it lost, for the winner's outcome usually answers it; losing twice is a 409.
    async fn at_most_twice<'a, T>(
        &'a self,
        id: Uuid,
        action: &str,
        mut attempt: impl FnMut(Recharge) -> Attempt<'a, T>,
    ) -> Result<T, FlowError> {
        let mut recharge = self.load(id).await?;
        for _ in 0..2 {
            match attempt(recharge).await? {
                Race::Won(answer) => return Ok(answer),
                Race::Lost => recharge = self.load(id).await?,
            }
        }
        Err(FlowError::out_of_order(
            recharge.status,
            why_not(recharge.status, action),
        ))
    }

    /// Waits while another request's call on this recharge is out, then reads it again: an
    /// identical request answers as the first one did instead of a 409.
    async fn wait_for_call(&self, recharge: Recharge) -> Result<Recharge, FlowError> {
        let mut now = recharge;
        let (status, attempt) = (now.status, now.attempt);
        while now.status == status
            && now.attempt == attempt
            && !now.call_is_over(chrono::Utc::now())
        {
            tokio::time::sleep(self.timing.poll).await;
            now = self.load(now.id).await?;
        }
        Ok(now)
    }

    /// The answer of `step` (the in-flight state of an effectuation, confirmation or undo) if
    /// that step ended `recharge` in failure: the same for the first request and its repeats,
    /// for it is read from what is stored.
    async fn failed_step_answer(
        &self,
        recharge: &Recharge,
        step: RechargeStatus,
    ) -> Result<Option<FlowError>, FlowError> {
        let events = store::recharges::events(&self.pool, recharge.id).await?;
        Ok(answer::of_failed_step(recharge, &events, step).map(FlowError::Carat))
    }

    /// What a step answers once its outcome is stored: the recharge, or, when the step ended
    /// it in failure, that failure as [`Self::failed_step_answer`] tells it.
    async fn step_outcome(
        &self,
        stored: Recharge,
        step: RechargeStatus,
    ) -> Result<Recharge, FlowError> {
        match self.failed_step_answer(&stored, step).await? {
            Some(failure) => Err(failure),
            None => Ok(stored),
        }
    }

    /// Keeps a call whose outcome changes nothing else (a listing, a query, the create) in the
    /// recharge's history.
    async fn note_call<T: carat_wire::Verdict>(
        &self,
        id: Uuid,
        actor: &Actor,
        exchange: &Exchange<T>,
    ) -> Result<(), FlowError> {
        store::recharges::record_call(&self.pool, id, actor, call_record(exchange)).await?;
        Ok(())
    }
}

/// One attempt at a step that may lose a race. Boxed: the use cases run in spawned tasks,
/// which need the future to be `Send`, and an async closure's future cannot say so yet.
type Attempt<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<Race<T>, FlowError>> + Send + 'a>>;

/// How an attempt at a step that may lose a race ended.
enum Race<T> {
    /// It took the step (or found the answer): this is it.
    Won(T),
    /// Someone else moved the recharge first; nothing was sent.
    Lost,
}

/// Runs a use case in a task of its own: if the storefront hangs up, the request's future is
/// dropped, but the call to Carat and the record of its outcome go on to the end.
async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, FlowError>> + Send + 'static,
) -> Result<T, FlowError> {
    match tokio::spawn(crate::carat_wait::carry(work).in_current_span()).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(FlowError::Interrupted),
    }
}

/// What Carat reported of a recharge it effectuated (its USN and the authorization), as kept in
/// `carat_answer`; an absent part stays absent, so it never overwrites what was kept before.
fn carat_answer(
    esitef: Option<&carat_wire::Esitef>,
    authorization: Option<&carat_wire::Authorization>,
) -> carat_domain::CaratAnswer {
    carat_domain::CaratAnswer {
        esitef_usn: esitef.and_then(|e| e.usn.clone()),
        authorization: authorization.map(|a| serde_json::json!(a)),
        tv_package_subscription_codes: None,
        ..carat_domain::CaratAnswer::default()
    }
}

/// The history entry for an outbound call: what was sent (redacted by the client) and what
/// came back, in Carat's words.
fn call_record<T: carat_wire::Verdict>(exchange: &Exchange<T>) -> store::CallRecord {
    use crate::carat::CaratError;
    let mut detail = match &exchange.result {
        Ok(body) => serde_json::json!({
            "outcome": "ok",
            "esitef_code": body.esitef().map(|e| e.code.as_str()),
            "esitef_message": body.esitef().and_then(|e| e.message.as_deref()),
            "carat_status": body.status(),
        }),
        Err(CaratError::Answered(r)) => serde_json::json!({
            "outcome": if r.is_definite() { "refused" } else { "unknown" },
            "http_status": r.http_status,
            "esitef_code": r.code,
            "esitef_message": r.message,
            "carat_status": r.carat_status,
        }),
        Err(e @ CaratError::NoAnswer { timeout_ms, .. }) => serde_json::json!({
            "outcome": "unknown",
            "error": e.to_string(),
            "timeout_ms": timeout_ms,
        }),
        Err(e @ CaratError::NotSent { .. }) => {
            serde_json::json!({"outcome": "not_sent", "error": e.to_string()})
        }
    };
    detail["request"] = exchange.request.clone();
    store::CallRecord {
        name: exchange.call.as_str().to_owned(),
        detail,
    }
}

/// Why `action` cannot be taken on a recharge in `status`: the text of a 409.
fn why_not(status: RechargeStatus, action: &str) -> String {
    use RechargeStatus::*;
    let state = match status {
        Created => "has no NIT yet (its create did not complete)",
        Started => "has not been effectuated yet",
        Effectuating => "has an effectuation in progress",
        AwaitingChoice => "waits for a TV package to be chosen (`tv_package`)",
        PendingConfirmation => "is already effectuated and waits to be confirmed or undone",
        Confirming => "has a confirmation in progress",
        Undoing => "has an undo in progress",
        Confirmed => "is already confirmed",
        Undone => "is already undone",
        Failed => "has failed",
        Expired => "has expired",
    };
    format!("cannot {action}: the recharge {state} (status {status})")
}
