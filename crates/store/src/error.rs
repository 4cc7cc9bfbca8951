//! Database failures, sorted by what the caller should answer.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached (or no connection was free in time): try again later.
    #[error("the database is unavailable")]
    Unavailable(#[source] sqlx::Error),
    /// A uniqueness rule was broken.
    #[error("{0} is already in use")]
    Duplicate(UniqueConstraint),
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        let e = match e {
            sqlx::Error::Io(io) => match super::db::down_error(&io) {
                Some(down) => sqlx::Error::Io(down),
                None => sqlx::Error::Io(io),
            },
            e => e,
        };
        let error = Self::sort(e);
        match &error {
            // The server is up, and refuses writes: its connections are recycled.
            Self::Unavailable(sqlx::Error::Database(db))
                if db.code().as_deref() == Some(READ_ONLY) =>
            {
                super::db::read_only_found();
            }
            Self::Unavailable(_) => super::db::database_lost(),
            _ => {}
        }
        error
    }
}

/// `read_only_sql_transaction`: a write on a standby, a demoted primary, or a database with
/// `default_transaction_read_only`.
pub(crate) const READ_ONLY: &str = "25006";

impl StoreError {
    fn sort(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_) => Self::Unavailable(e),
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                Self::Duplicate(UniqueConstraint::named(db.constraint()))
            }
            sqlx::Error::Database(db) if db.code().is_some_and(|c| means_unavailable(&c)) => {
                Self::Unavailable(e)
            }
            _ => Self::Other(e),
        }
    }
}

/// The unique constraints a caller answers for (migration 1's), by what they keep unique.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UniqueConstraint {
    /// `recharges_order_id_key`: one recharge per storefront order.
    OrderId,
    /// `recharges_nit_key`: a NIT belongs to one recharge.
    Nit,
    /// `recharges_merchant_usn_key`.
    MerchantUsn,
    /// Any other: nothing a caller tells apart.
    Other,
}

impl UniqueConstraint {
    fn named(constraint: Option<&str>) -> Self {
        match constraint {
            Some("recharges_order_id_key") => Self::OrderId,
            Some("recharges_nit_key") => Self::Nit,
            Some("recharges_merchant_usn_key") => Self::MerchantUsn,
            _ => Self::Other,
        }
    }

    /// What is already in use, as the API's conflict names it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrderId => "order_id",
            Self::Nit => "nit",
            Self::MerchantUsn => "merchant_usn",
            Self::Other => "a unique value",
        }
    }
}

impl std::fmt::Display for UniqueConstraint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SQLSTATEs that say "this database cannot serve you now", not "your statement is wrong":
/// connection failures (08), shutdown or crash (57P), no resources (53), the database gone or
/// refusing connections (3D000, 55000 as `ALLOW_CONNECTIONS false` answers), login refused
/// (28), a read-only standby after a failover (25006).
fn means_unavailable(code: &str) -> bool {
    ["08", "57P", "53", "28"]
        .iter()
        .any(|p| code.starts_with(p))
        || ["3D000", "55000", "25006"].contains(&code)
}

#[cfg(test)]
mod tests {
    #[test]
    fn outages_are_told_apart_from_bad_statements() {
        for code in [
            "08006", "57P01", "53300", "3D000", "55000", "28P01", "25006",
        ] {
            assert!(super::means_unavailable(code), "{code}");
        }
        for code in ["23505", "42P01", "22001", "40001"] {
            assert!(!super::means_unavailable(code), "{code}");
        }
    }
}
