//! The card `helpers.rs` takes from the api tests' `payments` module (which holds the payment
//! tests themselves, so it is not compiled in here): here with a security code that stands out.

use serde_json::{Value, json};

pub use crate::helpers::paid;

/// A card by its number, with a security code that no page may show ([`SECURITY_CODE`]).
pub fn by_number(number: &str) -> Value {
    json!({"number": number, "expiry_date": "1230", "security_code": SECURITY_CODE})
}

/// Four digits that stand out in a page (`helpers::holds_code` finds them alone).
pub const SECURITY_CODE: &str = "7391";
