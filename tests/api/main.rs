//! End-to-end tests: the service over HTTP, real PostgreSQL, the sandbox playing Carat.

mod authenticity;
mod database;
mod faults;
mod flow;
mod helpers;
mod outbound_faults;
mod validation;
