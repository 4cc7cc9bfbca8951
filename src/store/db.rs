//! The connection pool: the database is created when missing and migrated at start-up.

use std::time::Duration;

use sqlx::migrate::MigrateDatabase;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::domain::Secret;

/// The migrations in `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

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
        .connect_with(options.clone())
        .await
        .map_err(connect_error)?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}
