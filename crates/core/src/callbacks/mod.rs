//! What Carat's POSTs do: the authenticity POST, status notifications and HASH notifications,
//! each applied and kept in the callback inbox in one transaction, and the answer Carat gets
//! decided here ([`Verdict`]: an outcome, an HTTP status as a number, a reason), so that the
//! HTTP door only reads the form and writes the answer. A POST refused before it reaches
//! anything it names (malformed, another merchant's) is kept too: Carat's retries of it are
//! then answered the same.

pub mod authenticity;
pub mod hash;
pub mod status;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;

use carat_domain::MerchantId;
use carat_store::StoreError;
use carat_store::callbacks::{self as inbox, Outcome, Receipt, StoredCallback, Verdict};
use carat_store::lane::Lane;

/// The callbacks' use cases; cheap to clone.
#[derive(Clone, Debug)]
pub struct CallbackService {
    pool: PgPool,
    /// The authenticity POST's own connections (see [`carat_store::lane`]).
    lane: Arc<Lane>,
    /// Our merchant id on Carat: a POST for another merchant is not for us.
    merchant_id: MerchantId,
    /// A NIT's lifetime at Carat: past it, the reconciler asks whether a NIT expired.
    nit_lifetime: Duration,
}

impl CallbackService {
    pub fn new(
        pool: PgPool,
        lane: Arc<Lane>,
        merchant_id: MerchantId,
        nit_lifetime: Duration,
    ) -> Self {
        Self {
            pool,
            lane,
            merchant_id,
            nit_lifetime,
        }
    }

    /// Keeps a POST refused before it reaches anything it names (`stored_body` is what the
    /// inbox keeps of it), with `http_status` and `reason`; a replay is answered as before.
    pub async fn refuse(
        &self,
        receipt: &Receipt,
        stored_body: &[u8],
        http_status: u16,
        reason: String,
    ) -> Result<Verdict, StoreError> {
        let verdict = Verdict {
            outcome: Outcome::Refused,
            http_status,
            reason: Some(reason),
        };
        // A replay is answered with what the first was (the same refusal, kept once).
        let stored = inbox::keep_refused_as(&self.pool, receipt, &verdict, stored_body).await?;
        Ok(Verdict {
            outcome: Outcome::Refused,
            http_status: stored.http_status as u16,
            reason: stored.reason,
        })
    }
}

impl CallbackService {
    /// The callback inbox, newest first, for operators.
    pub async fn inbox(
        &self,
        filter: inbox::Filter,
        before: Option<i64>,
        limit: i64,
    ) -> Result<Vec<inbox::CallbackRow>, StoreError> {
        inbox::list(&self.pool, filter, before, limit).await
    }
}

/// A POST kept before is answered as it was then.
pub fn replayed(stored: &StoredCallback) -> Verdict {
    Verdict {
        outcome: Outcome::Accepted,
        http_status: stored.http_status as u16,
        reason: stored.reason.clone(),
    }
}
