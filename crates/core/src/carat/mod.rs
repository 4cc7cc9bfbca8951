//! The HTTP client that speaks Carat Portal's wire format (`carat_wire`): timeouts always,
//! errors sorted by "did Carat act on it?".

pub mod call;
pub mod cards;
pub mod client;
pub mod error;

pub use call::CaratCall;
pub use client::{CaratClient, CaratClientConfig, Exchange};
pub use error::{CaratError, Refusal};
