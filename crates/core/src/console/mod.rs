//! The operator console's use cases besides the recharge actions (those are
//! `RechargeService`'s, in `recharge/operations.rs`): its sessions ([`Sessions`]) and the reads
//! its pages show ([`Desk`]: the overview, search, the queues, the database's health).

mod clock;
mod desk;
mod search;
mod sessions;

pub use clock::{SAO_PAULO, hour_buckets_from, sao_paulo_midnight};
pub use desk::{DbState, Desk, HourBucket, Overview, Queue, QueueCounts, Search};
pub use search::names_for;
pub use sessions::{OpenedSession, Session, Sessions};

/// Where a page of recharges starts: strictly after (older than) this `(created_at, id)`.
pub use carat_store::recharge_list::Key as ListKey;

use carat_domain::FieldError;
use carat_store::StoreError;

/// Why a console read or a session operation did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The caller's input is not what the operation takes (names the field).
    #[error("{0}")]
    Invalid(FieldError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
