//! The machinery every step that calls Carat goes through: the step is claimed by a
//! conditional update (`WHERE status = .. AND attempt = ..`, so two requests, instances or
//! reconcilers cannot both take it), the call goes out in a detached task, and its outcome is
//! recorded under the same guard (`record.rs`), or the recharge is left in doubt for a query to
//! resolve (`resolve.rs`).

mod record;

use std::future::Future;

use tracing::Instrument;

use super::{FlowError, Opened, RechargeService, why_not};
use carat_domain::{Actor, RechargeStatus};
use carat_store::{Changes, Guard, NextAttempt, Recharge, Step};

pub(in crate::recharge) use record::call_record;

impl RechargeService {
    /// A step from `from` to `to` with nothing else written; callers fill in the rest.
    pub(in crate::recharge) fn step(
        &self,
        recharge: &Recharge,
        to: RechargeStatus,
        guard: Guard,
        actor: &Actor,
    ) -> Step {
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
    pub(in crate::recharge) fn call_step(
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
    /// recharge first): `attempt` runs on the recharge as the request opened it, and once more
    /// on a fresh read if it lost, for the winner's outcome usually answers it; losing twice is
    /// a 409.
    pub(in crate::recharge) async fn at_most_twice<'a, T>(
        &'a self,
        opened: Opened,
        action: &str,
        mut attempt: impl FnMut(Opened) -> Attempt<'a, T>,
    ) -> Result<T, FlowError> {
        let (id, listed) = (opened.recharge.id, opened.listings.is_some());
        let mut opened = opened;
        for _ in 0..2 {
            match attempt(opened).await? {
                Race::Won(answer) => return Ok(answer),
                Race::Lost => opened = self.reopen(id, listed).await?,
            }
        }
        let status = opened.recharge.status;
        Err(FlowError::out_of_order(status, why_not(status, action)))
    }

    /// Waits while another request's call on this recharge is out, then reads it again: an
    /// identical request answers as the first one did instead of a 409.
    pub(in crate::recharge) async fn wait_for_call(
        &self,
        recharge: Recharge,
    ) -> Result<Recharge, FlowError> {
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
}

/// One attempt at a step that may lose a race. Boxed: the use cases run in spawned tasks,
/// which need the future to be `Send`, and an async closure's future cannot say so yet.
pub(in crate::recharge) type Attempt<'a, T> =
    std::pin::Pin<Box<dyn Future<Output = Result<Race<T>, FlowError>> + Send + 'a>>;

/// How an attempt at a step that may lose a race ended.
pub(in crate::recharge) enum Race<T> {
    /// It took the step (or found the answer): this is it.
    Won(T),
    /// Someone else moved the recharge first; nothing was sent.
    Lost,
}

/// Runs a use case in a task of its own: if the storefront hangs up, the request's future is
/// dropped, but the call to Carat and the record of its outcome go on to the end.
pub(in crate::recharge) async fn detached<T: Send + 'static>(
    work: impl Future<Output = Result<T, FlowError>> + Send + 'static,
) -> Result<T, FlowError> {
    match tokio::spawn(crate::carat_wait::carry(work).in_current_span()).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(FlowError::Interrupted),
    }
}
