//! The recharge use cases: begin, list dealers and branch data, effectuate, confirm or undo,
//! resolving a call whose outcome is unknown by querying Carat, and the reconciler that ends
//! every recharge nobody else ends.
//!
//! The rules this module keeps:
//! * a state change is committed before the call that depends on it goes out, and the call's
//!   outcome is committed before the storefront hears of it;
//! * a money-moving call (effectuate, confirm, undo) bumps the recharge's `attempt`, and every
//!   write that records its outcome is guarded by that attempt: a late answer, or a stale
//!   request, never overwrites a newer one;
//! * a lost answer leaves the recharge in doubt (`outcome_unknown`) and only a query to Carat
//!   moves it on; an effectuation is sent again only when Carat says it never happened (NOV);
//! * every step is a conditional update (`WHERE status = .. AND attempt = ..`), so two
//!   requests, two instances or two reconcilers cannot both take the same step;
//! * the use cases that call Carat run in a task of their own, so a storefront that hangs up
//!   cannot stop one half way between the call and the record of its outcome.
//!
//! Where things are:
//! * `operations.rs`: every operation a recharge supports, the one entry for every door;
//! * `steps/`: the machinery each step that calls Carat goes through (claim, call, guarded
//!   record, in doubt); `resolve.rs` settles a doubt by querying Carat;
//! * `requests/`: the storefront's bodies; `views.rs`: what it is shown of Carat's listings;
//! * one file per step (`begin`, `catalog`, `bills`, `effectuate`, `resubmit`, `confirm`) and
//!   per concern (`payment`, `payment_methods`, `pin_receipts`, `catalogue_cache`);
//! * `reconcile.rs`: the reconciler, which ends what nobody else ends;
//! * `operator.rs`: the console's operator actions (ask Carat, undo, confirm, reveal a PIN).

mod answer;
mod begin;
mod bills;
mod catalog;
mod catalog_check;
mod catalogue_cache;
mod confirm;
mod effectuate;
mod error;
mod kinds;
mod operations;
mod operator;
mod payment;
mod payment_methods;
mod pin_receipts;
mod reconcile;
mod requests;
mod resolve;
mod resubmit;
mod steps;
mod views;

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

pub use error::{CaratFailure, CaratProblem, FlowError};
pub use operator::{OperatorAction, took_effect};
pub use pin_receipts::{PinReceipt, Receipts, pin_receipt_state};
pub use reconcile::{Heartbeat, PassReport, Reconciler, ReconcilerConfig};
pub use requests::*;
pub use views::*;

use crate::carat::CaratClient;
use crate::shared_memory::{Freshness, Kept};
use carat_domain::receipt_cipher::Keyring;
use carat_domain::{RechargeStatus, RechargeType};
use carat_store::{self as store, NextAttempt, Recharge};
use catalogue_cache::CatalogueCopy;

/// How long things take, and may take.
#[derive(Clone, Debug)]
pub struct Timing {
    /// The Carat client's total timeout.
    pub call_timeout: Duration,
    /// Past the timeout, before a call counts as over for sure: clock skew between instances,
    /// the time to commit its outcome.
    pub call_grace: Duration,
    /// A NIT's lifetime at Carat.
    pub nit_lifetime: Duration,
    /// How long a recharge may stay pending confirmation, from its effectuation.
    pub pending_timeout: Duration,
    /// How often a waiting request looks again at a call another request has out.
    pub poll: Duration,
}

impl Timing {
    /// From a call going out until it is over for sure.
    pub fn call_window(&self) -> Duration {
        self.call_timeout + self.call_grace
    }

    /// When the reconciler looks at a recharge that just reached `status` if nothing else
    /// moves it.
    fn next_for(&self, status: RechargeStatus) -> NextAttempt {
        use RechargeStatus::*;
        match status {
            s if s.is_final() => NextAttempt::Never,
            // Nothing is charged while Carat waits for a TV package: looked at (queried) when
            // the NIT would expire, like a recharge never effectuated.
            Started | AwaitingChoice => NextAttempt::AfterStart(self.nit_lifetime),
            PendingConfirmation => NextAttempt::AfterEffectuation(self.pending_timeout),
            // created, or a call going out: once it is over for sure.
            _ => NextAttempt::In(self.call_window()),
        }
    }
}

#[derive(Clone, Debug)]
pub struct RechargeService {
    pool: PgPool,
    carat: CaratClient,
    timing: Timing,
    /// Seals and opens the receipts that carry a PIN.
    pin_keys: Arc<Keyring>,
    /// Whether the copies below may be served (`shared_memory`).
    freshness: Arc<Freshness>,
    /// The catalogue cache's rows, as this process knows them (`catalogue_cache.rs`).
    catalogue: Arc<Kept<CatalogueCopy>>,
    /// What Carat announced about payment methods, as this process knows it
    /// (`payment_methods.rs`).
    announced: Arc<Kept<Option<store::payment_methods::Announced>>>,
}

impl RechargeService {
    pub fn new(pool: PgPool, carat: CaratClient, timing: Timing, pin_keys: Arc<Keyring>) -> Self {
        let freshness = Arc::new(Freshness::default());
        Self {
            pool,
            carat,
            timing,
            pin_keys,
            catalogue: Arc::new(Kept::new(freshness.clone())),
            announced: Arc::new(Kept::new(freshness.clone())),
            freshness,
        }
    }

    /// Keeps copies of the rows every instance shares, listening for their changes: until
    /// this is called (a one-off command), and whenever the listener is lost, every read of
    /// them goes to the database.
    pub fn listen_for_shared_changes(&self) {
        self.freshness.listen(self.pool.clone());
    }

    /// The recharge a storefront request names, read once for the whole request.
    pub async fn open(&self, id: Uuid) -> Result<Opened, FlowError> {
        Ok(Opened {
            recharge: self.load(id).await?,
            listings: None,
        })
    }

    /// [`Self::open`], with what Carat listed for the recharge (an effectuation is checked
    /// against it), in the same round trip.
    pub async fn open_listed(&self, id: Uuid) -> Result<Opened, FlowError> {
        let (recharge, listings) = store::recharges::find_listed(&self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        trace_ids(&recharge);
        Ok(Opened {
            recharge,
            listings: Some(listings),
        })
    }

    /// Reads a recharge again, with its listings if `listed`.
    async fn reopen(&self, id: Uuid, listed: bool) -> Result<Opened, FlowError> {
        match listed {
            true => self.open_listed(id).await,
            false => self.open(id).await,
        }
    }

    /// The Carat client for `recharge`'s calls: signed if, and only if, it was created in
    /// signature mode (whatever `CARAT_AUTH_MODE` says now).
    fn carat_for(&self, recharge: &Recharge) -> CaratClient {
        self.carat.for_recharge(recharge.auth_mode)
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn load(&self, id: Uuid) -> Result<Recharge, FlowError> {
        let recharge = store::recharges::find(&self.pool, id)
            .await?
            .ok_or(FlowError::NotFound)?;
        trace_ids(&recharge);
        Ok(recharge)
    }
}

/// The request's span carries both ids from here on.
fn trace_ids(recharge: &Recharge) {
    let span = tracing::Span::current();
    span.record("recharge_id", tracing::field::display(recharge.id));
    if let Some(nit) = &recharge.nit {
        span.record("nit", tracing::field::display(nit));
    }
}

/// A recharge as a request read it, with what Carat listed for it when the request needs that.
#[derive(Debug)]
pub struct Opened {
    recharge: Recharge,
    /// Each kept listing's body by its key's text; `None`: not read with the recharge (a
    /// check then reads each one it needs from the store).
    listings: Option<serde_json::Map<String, serde_json::Value>>,
}

impl Opened {
    pub fn recharge(&self) -> &Recharge {
        &self.recharge
    }

    pub fn recharge_type(&self) -> RechargeType {
        self.recharge.recharge_type
    }

    pub fn into_recharge(self) -> Recharge {
        self.recharge
    }
}

/// What Carat reported of a recharge it effectuated (its USN and the authorization), as kept in
/// `carat_answer`; an absent part stays absent, so it never overwrites what was kept before.
fn carat_answer(
    esitef: Option<&carat_wire::Esitef>,
    authorization: Option<&carat_wire::Authorization>,
) -> carat_domain::CaratAnswer {
    carat_domain::CaratAnswer {
        esitef_usn: esitef.and_then(|e| e.usn.clone()),
        authorization: authorization.map(|a| serde_json::json!(a)),
        tv_package_subscription_codes: None,
        ..carat_domain::CaratAnswer::default()
    }
}

/// Why `action` cannot be taken on a recharge in `status`: the text of a 409.
fn why_not(status: RechargeStatus, action: &str) -> String {
    use RechargeStatus::*;
    let state = match status {
        Created => "has no NIT yet (its create did not complete)",
        Started => "has not been effectuated yet",
        Effectuating => "has an effectuation in progress",
        AwaitingChoice => "waits for a TV package to be chosen (`tv_package`)",
        PendingConfirmation => "is already effectuated and waits to be confirmed or undone",
        Confirming => "has a confirmation in progress",
        Undoing => "has an undo in progress",
        Confirmed => "is already confirmed",
        Undone => "is already undone",
        Failed => "has failed",
        Expired => "has expired",
    };
    format!("cannot {action}: the recharge {state} (status {status})")
}
