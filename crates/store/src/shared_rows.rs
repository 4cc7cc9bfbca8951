//! The rows every instance shares and may keep a copy of in memory (the catalogue's version and
//! entries, the merchant's payment-methods row): each change to one sends a `NOTIFY` on
//! [`CHANNEL`] from the transaction that made it, so it is heard only once committed, and
//! every instance listens.

use std::time::Duration;

use sqlx::PgConnection;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};

use super::StoreError;

/// The channel every change to a shared row is announced on.
pub const CHANNEL: &str = "carat_merchant_shared_rows";

/// Which shared row changed: the payload of the notification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SharedRow {
    Catalogue,
    PaymentMethods,
}

impl SharedRow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Catalogue => "catalogue",
            Self::PaymentMethods => "payment_methods",
        }
    }
}

/// Announces a change to `row`, delivered when the caller's transaction commits.
pub(crate) async fn announce(conn: &mut PgConnection, row: SharedRow) -> Result<(), StoreError> {
    sqlx::query!("SELECT pg_notify($1, $2)", CHANNEL, row.as_str())
        .execute(conn)
        .await?;
    Ok(())
}

/// A connection of its own, made as `pool` makes them now (so none while the database is
/// known down, `db::circuit`) but never one of its slots, listening on [`CHANNEL`].
pub async fn listen(pool: &PgPool) -> Result<PgListener, StoreError> {
    let own = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(pool.connect_options().as_ref().clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}
