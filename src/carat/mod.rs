//! Carat Portal's wire format and the HTTP client that speaks it.

pub mod cards;
pub mod client;
pub mod error;
pub mod redact;
pub mod signature;
pub mod wire;

pub use client::{CaratClient, CaratClientConfig, Exchange};
pub use error::{CaratError, Refusal};
