//! The connection pool: the database is created when missing and migrated at start-up.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgPool, Postgres};

use carat_domain::Secret;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    // Each names DATABASE_URL once and never quotes it (it may hold a password); sqlx's
    // messages do not include the URL either.
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    InvalidUrl(sqlx::Error),
    #[error("could not create the database {database} named by DATABASE_URL: {error}")]
    Create {
        database: String,
        error: sqlx::Error,
    },
    #[error("could not connect to the database server at {server} (DATABASE_URL): {error}")]
    Connect { server: String, error: sqlx::Error },
    #[error("could not apply migrations to the database named by DATABASE_URL: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How long a pooled connection may sit idle and still be handed out untested.
pub(crate) const TEST_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

/// How long after the database was last found away every connection is tested.
const TEST_AFTER_LOSS: Duration = Duration::from_secs(10);

/// When a statement last failed for want of the database (see [`database_lost`]), in
/// milliseconds since the Unix epoch; 0 for never. One for the process: a pool too many
/// only pings a little more.
static LAST_LOSS_MS: AtomicU64 = AtomicU64::new(0);

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Notes that the database was found away (`StoreError::Unavailable`): for
/// [`TEST_AFTER_LOSS`], pooled connections are tested before use.
pub(crate) fn database_lost() {
    LAST_LOSS_MS.store(now_ms(), Ordering::Relaxed);
}

pub(crate) fn lately_lost() -> bool {
    let last = LAST_LOSS_MS.load(Ordering::Relaxed);
    last != 0 && now_ms().saturating_sub(last) < TEST_AFTER_LOSS.as_millis() as u64
}

/// The migrations the database says it applied: each version, and whether it succeeded. sqlx's
/// own error: the readiness probe reports it as it is, without the store's sorting.
pub async fn applied_migrations(pool: &PgPool) -> Result<Vec<(i64, bool)>, sqlx::Error> {
    // Runtime text: `_sqlx_migrations` is made by the migrator, not by migrations/, so the
    // compile-time check (against a database migrated from those files) cannot see it.
    sqlx::query_as("SELECT version, success FROM _sqlx_migrations")
        .fetch_all(pool)
        .await
}

/// Connects, creating the database first if it does not exist, and applies the migrations.
pub async fn connect_and_migrate(
    url: &Secret,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<PgPool, DbSetupError> {
    let options: PgConnectOptions = url.expose().parse().map_err(DbSetupError::InvalidUrl)?;
    // Host and port only: enough to see which server was meant, without the credentials.
    let connect_error = |error| DbSetupError::Connect {
        server: format!("{}:{}", options.get_host(), options.get_port()),
        error,
    };
    if !Postgres::database_exists(url.expose())
        .await
        .map_err(connect_error)?
    {
        // Several instances may start at once: losing the race to create it is fine.
        if let Err(e) = Postgres::create_database(url.expose()).await
            && !Postgres::database_exists(url.expose())
                .await
                .unwrap_or(false)
        {
            return Err(DbSetupError::Create {
                database: options.get_database().unwrap_or_default().to_owned(),
                error: e,
            });
        }
        tracing::info!(database = options.get_database(), "created the database");
    }
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        // Fail fast when PostgreSQL is away, so callers answer 503 instead of hanging.
        .acquire_timeout(acquire_timeout)
        // sqlx pings every connection it hands out by default: a round trip more per request
        // (the authenticity POST's whole work is one). A connection is tested only when it
        // sat idle long enough to have been dropped by the server or a proxy, or while the
        // database was lately found away (a restart kills every pooled connection at once:
        // each is then tested and replaced, not handed to a request). sqlx always pings on
        // release, so one that breaks while busy fails only its own request (never a 200).
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > TEST_WHEN_IDLE_FOR || lately_lost() {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(options.clone())
        .await
        .map_err(connect_error)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
