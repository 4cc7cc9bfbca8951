//! The authenticity POST's own connections ("the lane"), apart from the pool.
//!
//! Why apart: Carat holds a create open until the POST is answered, and aborts it on anything
//! but a 200; a storefront burst that fills the pool must not make that POST wait. Why not a
//! second sqlx pool: the POST's whole work is one statement, and a pool adds a round trip to
//! every use (it pings each connection on release, to learn whether a cancelled query left it
//! mid-exchange). The lane knows that itself: a connection goes back only when its statement
//! ran to the end; one whose request was cancelled, or that failed for want of the database,
//! is closed. Connections open on first use, up to `DATABASE_CALLBACK_CONNECTIONS`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::sync::{Semaphore, SemaphorePermit};

use super::StoreError;
use super::db::{self, Circuit};

#[derive(Debug)]
pub struct Lane {
    /// The pool it stands beside: its connect options, and when it closes (shutdown), the
    /// lane is closed too.
    pool: PgPool,
    options: PgConnectOptions,
    /// The pool's: while the server is down, a lend fails at once.
    circuit: Arc<Circuit>,
    permits: Semaphore,
    idle: Mutex<Vec<Idle>>,
    size: usize,
    acquire_timeout: Duration,
}

#[derive(Debug)]
struct Idle {
    connection: PgConnection,
    since: Instant,
}

/// A lane connection, lent until [`Lent::give_back`]; dropped without it (the request was
/// cancelled mid-statement), it is closed.
pub struct Lent<'a> {
    lane: &'a Lane,
    connection: Option<PgConnection>,
    _permit: SemaphorePermit<'a>,
}

impl Lane {
    /// Beside `pool`, sharing its `circuit` (from [`db::open`]).
    pub fn new(pool: &PgPool, circuit: Arc<Circuit>, size: u32, acquire_timeout: Duration) -> Self {
        Self {
            pool: pool.clone(),
            options: (*pool.connect_options()).clone(),
            circuit,
            permits: Semaphore::new(size as usize),
            idle: Mutex::new(Vec::with_capacity(size as usize)),
            size: size as usize,
            acquire_timeout,
        }
    }

    /// A connection within `DATABASE_ACQUIRE_TIMEOUT_MS`, or `Unavailable`: an idle one
    /// (tested first when it sat idle a while or the database was lately away, as the pool's
    /// are), else a new one. While the server is down, `Unavailable` at once (after one short
    /// look whether it is back: see [`Circuit`]).
    pub async fn lend(&self) -> Result<Lent<'_>, StoreError> {
        if self.pool.is_closed() {
            return Err(StoreError::from(sqlx::Error::PoolClosed));
        }
        if self.circuit.is_down() && !self.circuit.back_now(&self.pool).await {
            return Err(StoreError::Unavailable(db::down()));
        }
        let deadline = tokio::time::Instant::now() + self.acquire_timeout;
        let permit = tokio::time::timeout_at(deadline, self.permits.acquire())
            .await
            .map_err(|_| StoreError::from(sqlx::Error::PoolTimedOut))?
            .map_err(|_| StoreError::from(sqlx::Error::PoolClosed))?;
        while let Some(Idle {
            mut connection,
            since,
        }) = self.pop_idle()
        {
            // Idle since the database turned read-only: closed, not used.
            if db::idle_since_read_only(since.elapsed()) {
                continue;
            }
            if since.elapsed() <= db::TEST_WHEN_IDLE_FOR && !db::lately_lost() {
                return Ok(self.lent(connection, permit));
            }
            if connection.ping().await.is_ok() {
                return Ok(self.lent(connection, permit));
            }
            self.circuit.suspect();
        }
        let connection = tokio::time::timeout_at(deadline, self.options.connect())
            .await
            .map_err(|_| StoreError::from(sqlx::Error::PoolTimedOut))??;
        Ok(self.lent(connection, permit))
    }

    /// Connections lent out (or being opened), idle, and the lane's size: for the metrics.
    pub fn counts(&self) -> (usize, usize, usize) {
        let size = self.size;
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).len();
        (size - self.permits.available_permits(), idle, size)
    }

    fn pop_idle(&self) -> Option<Idle> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn lent<'a>(&'a self, connection: PgConnection, permit: SemaphorePermit<'a>) -> Lent<'a> {
        Lent {
            lane: self,
            connection: Some(connection),
            _permit: permit,
        }
    }
}

impl Lent<'_> {
    pub fn connection(&mut self) -> &mut PgConnection {
        self.connection
            .as_mut()
            .expect("a lent connection is there until given back")
    }

    /// Back to the lane after a statement that ran to its end: `outcome` is its result. After
    /// an error PostgreSQL answered (a constraint, say) the connection is sound; after any
    /// other (the socket, a timeout) it is closed, and so it is while the database refuses
    /// writes as read-only (a demoted primary's connections are not kept).
    pub fn give_back<T>(mut self, outcome: &Result<T, sqlx::Error>) {
        let sound = match outcome {
            Ok(_) => true,
            Err(sqlx::Error::Database(e)) => e.code().as_deref() != Some(super::error::READ_ONLY),
            Err(_) => false,
        } && !db::lately_read_only();
        if let (true, Some(connection)) = (sound, self.connection.take()) {
            self.lane
                .idle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Idle {
                    connection,
                    since: Instant::now(),
                });
        }
    }
}
