//! End-to-end tests: the service over HTTP, real PostgreSQL, the sandbox playing Carat.

mod authenticity;
mod cluster;
mod database;
mod faults;
mod flow;
mod helpers;
mod outage;
mod validation;
