//! carat-merchant: the merchant's side of Carat Portal's REST recharge interface. This crate
//! holds the doors (the storefront API, Carat's callbacks, health, metrics) and the wiring;
//! what they do is the use-case layer's (`carat_core`).

pub mod admission;
pub mod api;
pub mod callbacks;
pub mod config;
pub mod console;
pub mod fallback;
pub mod health;
pub mod homologation;
mod layers;
pub mod metrics;
pub mod request_id;
pub mod server_timing;
pub mod startup;
pub mod telemetry;
pub mod tls;
