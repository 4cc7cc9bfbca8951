//! carat-merchant: the merchant's side of Carat Portal's REST recharge interface.

pub mod carat;
pub mod domain;
