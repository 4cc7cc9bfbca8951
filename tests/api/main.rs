//! End-to-end tests: the service over HTTP, real PostgreSQL, the sandbox playing Carat.

mod authenticity;
mod cluster;
mod crash;
mod database;
mod faults;
mod flow;
mod helpers;
mod idempotency;
mod inbox;
mod outage;
mod outbound_faults;
mod process;
mod reconciler;
mod validation;
