//! The two storefront bodies `helpers.rs` takes from the api tests' `payments` module (which
//! holds the payment tests themselves, so it is not compiled in here): the same shapes.

use serde_json::{Value, json};

use crate::helpers::PHONE_OK;

/// The storefront's `normal` effectuation body paying 1000 cents with `card`.
pub fn paid(card: Value) -> Value {
    json!({
        "dealer": {"code": "001", "type_code": "03"},
        "phone": {"ddd": "11", "number": PHONE_OK},
        "amount": 1000,
        "payment": {
            "amount": 1000,
            "authorizer_id": "1",
            "installment": {"number": 1, "type": "4"},
            "card": card,
        },
    })
}

/// A card by its number, with a security code that no page may show ([`SECURITY_CODE`]).
pub fn by_number(number: &str) -> Value {
    json!({"number": number, "expiry_date": "1230", "security_code": SECURITY_CODE})
}

/// Four digits that stand out in a page (`helpers::holds_code` finds them alone).
pub const SECURITY_CODE: &str = "7391";
