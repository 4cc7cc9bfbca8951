//! The start-up wait: [`open`], tried again with a growing pause (up to
//! [`MAX_STARTUP_PAUSE`]) while the database server does not answer yet, for up to
//! `DATABASE_STARTUP_WAIT_SECS` (a container started beside it); any other failure, and the
//! last one once the wait is over, is returned at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;

use carat_domain::Secret;

use super::{Circuit, DbSetupError, open};

/// At start-up, the longest pause between two tries.
const MAX_STARTUP_PAUSE: Duration = Duration::from_secs(5);

/// [`open`], waiting up to `wait` (`DATABASE_STARTUP_WAIT_SECS`) for a database server that
/// does not answer yet (a container started beside it), trying again with a growing pause.
pub async fn open_waiting(
    url: &Secret,
    max_connections: u32,
    acquire_timeout: Duration,
    wait: Duration,
) -> Result<(PgPool, Arc<Circuit>), DbSetupError> {
    let deadline = Instant::now() + wait;
    let mut pause = Duration::from_millis(250);
    let mut attempt = 0;
    loop {
        attempt += 1;
        let (server, error) = match open(url, max_connections, acquire_timeout).await {
            Err(DbSetupError::Connect { server, error }) => (server, error),
            other => return other,
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(DbSetupError::StartupWait {
                server,
                waited_secs: wait.as_secs(),
                attempts: attempt,
                error,
            });
        }
        pause = pause.min(left);
        tracing::warn!(
            attempt,
            retry_in_ms = pause.as_millis() as u64,
            %server,
            %error,
            "the database server does not answer yet; trying again (DATABASE_STARTUP_WAIT_SECS)"
        );
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_STARTUP_PAUSE);
    }
}
