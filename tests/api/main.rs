//! End-to-end tests: the service over HTTP, real PostgreSQL, the sandbox playing Carat.

mod answers;
mod authenticity;
mod catalogue_cache;
mod catalogue_checks;
mod cluster;
mod crash;
mod database;
mod edges;
mod faults;
mod flow;
mod helpers;
mod idempotency;
mod inbox;
mod invoice;
mod migrations;
mod others;
mod outage;
mod outbound_faults;
mod process;
mod reconciler;
mod sale_details;
mod security;
mod signature;
mod startup_config;
mod tv_and_questions;
mod validation;
