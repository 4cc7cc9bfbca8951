//! PostgreSQL: every SQL statement, and the migrations in `migrations/`.

pub mod codec;
pub mod db;
pub mod error;
pub mod recharges;

pub use db::{MIGRATOR, connect_and_migrate};
pub use error::StoreError;
pub use recharges::{Changes, EffectuationInput, Event, EventKind, NitCommit, Recharge};
