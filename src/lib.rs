//! carat-merchant: the merchant's side of Carat Portal's REST recharge interface.

pub mod api;
pub mod callbacks;
pub mod carat;
pub mod cards;
pub mod config;
pub mod domain;
pub mod health;
pub mod metrics;
pub mod recharge;
pub mod request_id;
pub mod sandbox;
pub mod server_timing;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod tls;
