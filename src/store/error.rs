//! Database failures, sorted by what the caller should answer.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached (or no connection was free in time): try again later.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule was broken; names the constraint's column.
    #[error("{0} is already in use")]
    Duplicate(&'static str),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => Self::Unavailable(e),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                let column = match db.constraint() {
                    Some("recharges_order_id_key") => "order_id",
                    Some("recharges_nit_key") => "nit",
                    Some("recharges_merchant_usn_key") => "merchant_usn",
                    _ => "a unique value",
                };
                Self::Duplicate(column)
            }
            // The server went away mid-statement (admin shutdown, crash).
            sqlx::Error::Database(db)
                if db
                    .code()
                    .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")) =>
            {
                Self::Unavailable(e)
            }
            _ => Self::Other(e),
        }
    }
}
