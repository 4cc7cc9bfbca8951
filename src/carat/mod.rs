//! Carat Portal's wire format and the HTTP client that speaks it.

pub mod client;
pub mod error;
pub mod wire;

pub use client::{CaratClient, CaratClientConfig};
pub use error::{CaratError, Refusal};
