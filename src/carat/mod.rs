//! Carat Portal's wire format and the HTTP client that speaks it.

pub mod wire;
