//! End-to-end tests: the service over HTTP, real PostgreSQL, the sandbox playing Carat.

mod authenticity;
mod faults;
mod flow;
mod helpers;
mod validation;
