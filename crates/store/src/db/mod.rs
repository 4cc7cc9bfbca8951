//! The connection pool: the database is created when missing and migrated at start-up
//! ([`open`]), waited for when it is not up yet ([`open_waiting`], in `startup_wait`), and
//! watched while the service runs (the [`Circuit`], in `circuit`, which answers the pool's
//! connects at a refusing socket of its own while the server is down, in `gate`, and learns
//! of a stop at once through a connection of its own, in `sentinel`). The pool tests a
//! connection before use only when it sat idle or the database was lately found away.

mod circuit;
mod gate;
mod sentinel;
mod startup_wait;

use std::sync::Arc;
use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{Connection, PgPool, Postgres};

use carat_domain::Secret;

pub use circuit::Circuit;
pub(crate) use circuit::{
    database_lost, down, down_error, idle_since_read_only, lately_lost, lately_read_only,
    read_only_found,
};
pub use startup_wait::open_waiting;

use circuit::watch;
use gate::{Gate, NOWHERE};

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
    #[error(
        "the database server at {server} (DATABASE_URL) did not answer within \
         DATABASE_STARTUP_WAIT_SECS ({waited_secs} s, {attempts} attempts); the last error: {error}"
    )]
    StartupWait {
        server: String,
        waited_secs: u64,
        attempts: u32,
        error: sqlx::Error,
    },
    #[error("could not apply migrations to the database named by DATABASE_URL: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// How long a pooled connection may sit idle and still be handed out untested.
pub(crate) const TEST_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);

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
    open(url, max_connections, acquire_timeout)
        .await
        .map(|(pool, _)| pool)
}

/// [`connect_and_migrate`], and the pool's [`Circuit`] (the lane shares it), watched until the
/// pool closes.
pub async fn open(
    url: &Secret,
    max_connections: u32,
    acquire_timeout: Duration,
) -> Result<(PgPool, Arc<Circuit>), DbSetupError> {
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
    let gate = Gate::open(options.get_port());
    let gate_options = match &gate {
        Some(gate) => options
            .clone()
            .socket(&gate.dir)
            .ssl_mode(PgSslMode::Disable),
        None => options.clone().socket(NOWHERE),
    };
    let circuit = Arc::new(Circuit::new(options.clone(), acquire_timeout, gate_options));
    let pool = pool_options(max_connections, acquire_timeout, &circuit)
        .connect_with(options.clone())
        .await
        .map_err(connect_error)?;
    MIGRATOR.run(&pool).await?;
    tokio::spawn(watch(pool.clone(), circuit.clone(), gate));
    Ok((pool, circuit))
}

fn pool_options(
    max_connections: u32,
    acquire_timeout: Duration,
    circuit: &Arc<Circuit>,
) -> PgPoolOptions {
    let circuit = circuit.clone();
    PgPoolOptions::new()
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
        .before_acquire(move |conn, meta| {
            let circuit = circuit.clone();
            Box::pin(async move {
                // Down, or idle since the database turned read-only: closed, not tried.
                if circuit.is_down() || idle_since_read_only(meta.idle_for) {
                    return Ok(false);
                }
                if meta.idle_for > TEST_WHEN_IDLE_FOR || lately_lost() {
                    conn.ping().await.inspect_err(|_| circuit.suspect())?;
                }
                Ok(true)
            })
        })
        // A read-only database may be a demoted primary: its connections are not kept.
        .after_release(|_, _| Box::pin(async { Ok(!lately_read_only()) }))
}
