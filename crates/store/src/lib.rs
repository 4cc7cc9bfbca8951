//! PostgreSQL: every SQL statement, and the migrations in `migrations/`.

pub mod callbacks;
pub mod cards;
pub mod catalogue_cache;
pub mod codec;
pub mod console_sessions;
pub mod db;
pub mod desk;
pub mod error;
pub mod idempotency;
pub mod lane;
pub mod listings;
pub mod notifications;
pub mod payment_methods;
pub mod payments;
pub mod recharge_list;
pub mod recharges;
pub mod shared_rows;

pub use db::{Circuit, MIGRATOR, connect_and_migrate};
pub use error::{StoreError, UniqueConstraint};
pub use recharges::{
    CallRecord, Changes, Event, EventKind, Guard, NextAttempt, NitCommit, NitFinding, NitPost,
    Recharge, Step, append_event,
};
