//! The use-case layer: every door (the storefront API, Carat's callbacks, the reconciler, the
//! operator console) calls these operations, with the same guards. Below it, the store (SQL and
//! row mapping) and the domain; beside it, the Carat client it calls. It names no HTTP server
//! type: a door turns its request into an operation here, and the operation's outcome into
//! its answer.

pub mod callbacks;
pub mod carat;
pub mod carat_wait;
pub mod cards;
pub mod console;
pub mod idempotency;
pub mod metrics;
pub mod recharge;
pub mod shared_memory;
