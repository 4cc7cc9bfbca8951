//! How long a request waited on Carat Portal, all its tasks together: the Carat client adds
//! each call's wait ([`carat_waited`]), the use cases carry the count into the tasks they spawn
//! ([`carry`]), and the door that serves the request reads the sum ([`measure`]; the
//! storefront's `Server-Timing` header). Calls made outside a request (the reconciler) add to
//! nothing.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Nanoseconds spent waiting on Carat by one request, all its tasks together.
type Wait = Arc<AtomicU64>;

tokio::task_local! {
    static CARAT_WAIT: Wait;
}

/// Adds `waited` to the current request's wait on Carat, if there is a request.
pub fn carat_waited(waited: Duration) {
    let _ = CARAT_WAIT.try_with(|wait| {
        wait.fetch_add(
            u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        )
    });
}

/// `work`, counting its waits on Carat to the request it was spawned from (if any).
pub fn carry<F: Future>(work: F) -> impl Future<Output = F::Output> {
    let wait = CARAT_WAIT.try_with(Arc::clone).ok();
    async move {
        match wait {
            Some(wait) => CARAT_WAIT.scope(wait, work).await,
            None => work.await,
        }
    }
}

/// Runs `work` as one request, and says how long it waited on Carat.
pub async fn measure<F: Future>(work: F) -> (F::Output, Duration) {
    let wait = Wait::default();
    let output = CARAT_WAIT.scope(wait.clone(), work).await;
    (output, Duration::from_nanos(wait.load(Ordering::Relaxed)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_add_up_across_spawned_tasks_and_outside_a_request_count_nowhere() {
        carat_waited(Duration::from_millis(5));
        let ((), waited) = measure(async {
            carat_waited(Duration::from_millis(2));
            tokio::spawn(carry(async { carat_waited(Duration::from_millis(3)) }))
                .await
                .unwrap();
            // Not carried: a task of its own.
            tokio::spawn(async { carat_waited(Duration::from_millis(7)) })
                .await
                .unwrap();
        })
        .await;
        assert_eq!(waited, Duration::from_millis(5));
    }
}
