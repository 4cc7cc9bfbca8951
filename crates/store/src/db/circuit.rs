//! The outage circuit: whether the database server takes connections, as each pool's watcher
//! last found it. While it is down every acquire fails at once (callers answer 503 at once
//! rather than after `DATABASE_ACQUIRE_TIMEOUT_MS`), and the server is probed until it answers.
//! Beside it, the process-wide notes that the database was lately found away (pooled
//! connections are then tested before use) or read-only (a demoted primary: its connections
//! are recycled), which the error sorting records and the pool and the lane read.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};
use tokio::sync::{Notify, watch};

use super::gate::{Gate, accept, answer};
use super::sentinel::Sentinel;

/// How long after the database was last found away every connection is tested.
const TEST_AFTER_LOSS: Duration = Duration::from_secs(10);

/// How long after the database last refused a write as read-only (SQLSTATE 25006) a
/// connection given back is closed rather than kept.
const RECYCLE_AFTER_READ_ONLY: Duration = Duration::from_secs(2);

/// While the database is down, how often the watcher tries it again.
pub(super) const PROBE_EVERY: Duration = Duration::from_millis(250);

/// While the database is down, a probe that ended this recently answers for an acquire.
const FRESH: Duration = Duration::from_millis(10);

/// While the database is down, how long an acquire waits for a probe: a refused connect
/// answers in well under a millisecond; a server just back may take longer to let one in.
pub(super) const SHORT_WINDOW: Duration = Duration::from_millis(80);

/// When a statement last failed for want of the database (see [`database_lost`]), in
/// milliseconds since the Unix epoch; 0 for never. One for the process: a pool too many
/// only pings a little more.
static LAST_LOSS_MS: AtomicU64 = AtomicU64::new(0);

/// When the database last refused a write as read-only, as [`LAST_LOSS_MS`]; one for the
/// process too: another pool's connections are only recycled a little sooner.
static LAST_READ_ONLY_MS: AtomicU64 = AtomicU64::new(0);

/// Rings every pool's watcher when a statement failed for want of the database.
static LOSSES: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::Sender::new(0));

/// How many circuits are open in this process (see [`down_error`]).
static OPEN_CIRCUITS: AtomicUsize = AtomicUsize::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn since_ms(last: &AtomicU64) -> Option<u64> {
    let last = last.load(Ordering::Relaxed);
    (last != 0).then(|| now_ms().saturating_sub(last))
}

/// Notes that the database was found away (`StoreError::Unavailable`): for
/// [`TEST_AFTER_LOSS`], pooled connections are tested before use, and each pool's watcher
/// checks at once whether the server is down.
pub(crate) fn database_lost() {
    LAST_LOSS_MS.store(now_ms(), Ordering::Relaxed);
    LOSSES.send_modify(|n| *n = n.wrapping_add(1));
}

pub(crate) fn lately_lost() -> bool {
    since_ms(&LAST_LOSS_MS).is_some_and(|ms| ms < TEST_AFTER_LOSS.as_millis() as u64)
}

/// Notes that the database refused a write as read-only (a demoted primary, or
/// `default_transaction_read_only`): the connections it holds are recycled, so that the next
/// ones reach whatever server the address names now.
pub(crate) fn read_only_found() {
    LAST_READ_ONLY_MS.store(now_ms(), Ordering::Relaxed);
}

/// Whether a connection given back now is closed rather than kept.
pub(crate) fn lately_read_only() -> bool {
    since_ms(&LAST_READ_ONLY_MS).is_some_and(|ms| ms < RECYCLE_AFTER_READ_ONLY.as_millis() as u64)
}

/// Whether a connection idle for `idle_for` was already idle when the database was last found
/// read-only: it is closed, not used.
pub(crate) fn idle_since_read_only(idle_for: Duration) -> bool {
    since_ms(&LAST_READ_ONLY_MS).is_some_and(|ms| (idle_for.as_millis() as u64) > ms)
}

/// What a caller is told while the circuit is open.
pub(crate) fn down() -> sqlx::Error {
    sqlx::Error::Io(down_io())
}

fn down_io() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "the database server is down: answered at once until it takes connections again",
    )
}

/// An open circuit's connect error (to [`NOWHERE`](super::gate::NOWHERE)) told as [`down`], not as "not a directory".
pub(crate) fn down_error(e: &std::io::Error) -> Option<std::io::Error> {
    (e.kind() == std::io::ErrorKind::NotADirectory && OPEN_CIRCUITS.load(Ordering::Relaxed) > 0)
        .then(down_io)
}

/// Whether the database server takes connections, as a pool's watcher last found it.
///
/// Closed (up), a pool behaves as sqlx's does. Open (down: a connect was refused, reset or
/// timed out, or the database refuses connections), every acquire fails at once, so callers
/// answer 503 at once rather than after `DATABASE_ACQUIRE_TIMEOUT_MS` (Carat's timeout on a
/// callback may be shorter). Each acquire meanwhile asks the server again (at most one connect
/// every [`FRESH`], waited for [`SHORT_WINDOW`] at most), and so does the watcher every
/// [`PROBE_EVERY`]: the first request after the server is back is served. A pool whose
/// connections are all busy is not down: it waits as before.
#[derive(Debug)]
pub struct Circuit {
    real: PgConnectOptions,
    /// A probe's own timeout (`DATABASE_ACQUIRE_TIMEOUT_MS`).
    within: Duration,
    /// While down, where the pool connects instead of the server (see [`Gate`]).
    gate: PgConnectOptions,
    down: AtomicBool,
    suspect: Notify,
    /// When the last probe while down ended; held while one runs, so that one runs at a time.
    probing: tokio::sync::Mutex<Option<Instant>>,
}

impl Circuit {
    pub(super) fn new(real: PgConnectOptions, within: Duration, gate: PgConnectOptions) -> Self {
        Self {
            real,
            within,
            gate,
            down: AtomicBool::new(false),
            suspect: Notify::new(),
            probing: tokio::sync::Mutex::new(None),
        }
    }

    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }

    /// A connection just failed: the watcher checks the server now.
    pub(crate) fn suspect(&self) {
        self.suspect.notify_one();
    }

    /// While down: whether the server answers now. A probe that ended within [`FRESH`] answers
    /// for it; otherwise one is made, waited for [`SHORT_WINDOW`] at most (spawned: one that
    /// outlasts the wait still lands for the next acquire). Found back, the circuit closes, for
    /// `pool` too.
    pub(crate) async fn back_now(self: &Arc<Self>, pool: &PgPool) -> bool {
        let (circuit, pool) = (self.clone(), pool.clone());
        let ask = tokio::spawn(async move { circuit.ask(&pool).await });
        matches!(tokio::time::timeout(SHORT_WINDOW, ask).await, Ok(Ok(true)))
    }

    async fn ask(&self, pool: &PgPool) -> bool {
        let mut last = self.probing.lock().await;
        if !self.is_down() {
            return true;
        }
        if last.is_some_and(|at| at.elapsed() < FRESH) {
            return false;
        }
        let up = probe(&self.real, self.within).await.is_ok();
        *last = Some(Instant::now());
        if up {
            self.close(pool);
        }
        up
    }

    fn open(&self, pool: &PgPool) {
        pool.set_connect_options(self.gate.clone());
        if !self.down.swap(true, Ordering::AcqRel) {
            OPEN_CIRCUITS.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn close(&self, pool: &PgPool) {
        pool.set_connect_options(self.real.clone());
        if self.down.swap(false, Ordering::AcqRel) {
            OPEN_CIRCUITS.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

/// Watches the server for `pool` until it closes: through a connection of its own that the
/// server's stop, restart or termination ends at once (the [`Sentinel`]), and whenever a
/// statement or a ping failed. Opens the circuit, and while it is open answers the pool's
/// connects at the [`Gate`] and probes the server, until it answers.
pub(super) async fn watch(pool: PgPool, circuit: Arc<Circuit>, gate: Option<Gate>) {
    let closed = pool.close_event();
    tokio::pin!(closed);
    let mut losses = LOSSES.subscribe();
    let mut sentinel = Sentinel::new(&circuit.real, circuit.within);
    loop {
        tokio::select! {
            _ = &mut closed => break,
            _ = circuit.suspect.notified() => {}
            _ = losses.changed() => {}
            _ = sentinel.lost() => {}
        }
        let Err(error) = probe(&circuit.real, circuit.within).await else {
            continue;
        };
        if !refuses_connections(&error) {
            continue;
        }
        sentinel.forget();
        circuit.open(&pool);
        tracing::warn!(%error, "the database server is down: answering 503 at once until it is back");
        let since = Instant::now();
        while circuit.is_down() {
            tokio::select! {
                _ = &mut closed => break,
                Some(stream) = accept(&gate) => {
                    tokio::spawn(answer(stream, circuit.clone(), pool.clone()));
                }
                _ = tokio::time::sleep(PROBE_EVERY) => {
                    circuit.back_now(&pool).await;
                }
            }
        }
        if circuit.is_down() {
            circuit.close(&pool);
            break;
        }
        tracing::info!(
            down_ms = since.elapsed().as_millis() as u64,
            "the database server answers again"
        );
    }
    sentinel.close().await;
}

/// One connect, with the pool's real options.
async fn probe(real: &PgConnectOptions, within: Duration) -> Result<(), sqlx::Error> {
    let connection = tokio::time::timeout(within, real.connect())
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)??;
    let _ = connection.close().await;
    Ok(())
}

/// A connect's failure that says the server does not serve: refused, reset or timed out, shut
/// down or starting, the database gone or closed to connections, the login refused. Not "too
/// many connections": the server is up, and busy.
pub(super) fn refuses_connections(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| refusing(&code)),
        _ => false,
    }
}

/// The SQLSTATEs of [`refuses_connections`].
fn refusing(code: &str) -> bool {
    ["08", "57P", "28"].iter().any(|p| code.starts_with(p)) || ["3D000", "55000"].contains(&code)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn a_server_that_refuses_is_told_from_a_busy_one() {
        for code in ["08006", "57P01", "57P03", "3D000", "55000", "28P01"] {
            assert!(super::refusing(code), "{code}");
        }
        // Too many connections: up and busy. Read-only: up, and connections are made.
        for code in ["53300", "25006", "23505", "42P01"] {
            assert!(!super::refusing(code), "{code}");
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert!(super::refuses_connections(&sqlx::Error::Io(refused)));
        assert!(super::refuses_connections(&sqlx::Error::PoolTimedOut));
        assert!(!super::refuses_connections(&sqlx::Error::RowNotFound));
    }

    #[test]
    fn connections_idle_since_the_database_turned_read_only_are_recycled() {
        super::read_only_found();
        assert!(super::lately_read_only());
        assert!(super::idle_since_read_only(Duration::from_secs(60)));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!super::idle_since_read_only(Duration::from_millis(5)));
    }
}
