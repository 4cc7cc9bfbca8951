//! The sentinel: the watcher's own connection, listening on a channel nobody notifies, so that
//! it waits on the socket alone and the server's stop, restart or termination ends it at once
//! (the watcher then probes the server, without waiting for a request to fail first).

use std::time::{Duration, Instant};

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::circuit::{PROBE_EVERY, refuses_connections};

/// The watcher's own connection: it listens on a channel nobody notifies, so that it waits on
/// the socket alone, and the server's stop, restart or termination ends it at once.
pub(super) struct Sentinel {
    pool: PgPool,
    listener: Option<(PgListener, Instant)>,
}

impl Sentinel {
    pub(super) fn new(real: &PgConnectOptions, within: Duration) -> Self {
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(within)
            .connect_lazy_with(real.clone());
        Self {
            pool,
            listener: None,
        }
    }

    /// Resolves when the connection is lost, or cannot be made: made first if there is none.
    pub(super) async fn lost(&mut self) {
        if self.listener.is_none() {
            let made = match PgListener::connect_with(&self.pool).await {
                Ok(mut made) => made.listen("carat_merchant_sentinel").await.map(|()| made),
                Err(e) => Err(e),
            };
            match made {
                Ok(made) => self.listener = Some((made, Instant::now())),
                // Not for want of the server (too many connections, say): not a busy loop.
                Err(e) if !refuses_connections(&e) => {
                    tokio::time::sleep(PROBE_EVERY * 4).await;
                    return;
                }
                Err(_) => return,
            }
        }
        if let Some((listener, _)) = &mut self.listener {
            while let Ok(Some(_)) = listener.try_recv().await {}
        }
        // One lost as soon as made (a proxy that drops idle sessions, say) is not made again
        // in a busy loop; the watcher's other wake-ups still come meanwhile.
        if let Some((_, made_at)) = self.listener.take()
            && made_at.elapsed() < PROBE_EVERY
        {
            tokio::time::sleep(PROBE_EVERY).await;
        }
    }

    pub(super) fn forget(&mut self) {
        self.listener = None;
    }

    pub(super) async fn close(mut self) {
        self.forget();
        self.pool.close().await;
    }
}
