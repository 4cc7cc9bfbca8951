//! What of a request to Carat may be kept in the recharge's history: everything but secrets
//! (the merchant key) and card data, whose values are replaced wherever they stand.

use serde_json::Value;

/// Stands where a secret or card datum was.
pub const REDACTED: &str = "[redacted]";

/// Fields whose value is a secret wherever they appear.
const SECRET_FIELDS: [&str; 4] = ["merchant_key", "merchantkey", "pin", "password"];
/// Objects whose every value is card data (`payment.card` of an effectuation).
const CARD_OBJECTS: [&str; 1] = ["card"];

/// `value` with every secret and every card datum replaced by [`REDACTED`].
pub fn redact(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let lower = key.to_ascii_lowercase();
                    let value = if SECRET_FIELDS.contains(&lower.as_str()) {
                        Value::from(REDACTED)
                    } else if CARD_OBJECTS.contains(&lower.as_str()) {
                        redact_all(value)
                    } else {
                        redact(value)
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact).collect()),
        other => other,
    }
}

/// Every leaf replaced: the shape stays, to show what was sent, never its values.
fn redact_all(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| (key, redact_all(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(redact_all).collect()),
        Value::Null => Value::Null,
        _ => Value::from(REDACTED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn secrets_and_card_data_are_replaced_and_the_rest_kept() {
        let sent = json!({
            "begin_recharge_request": {"merchant_key": "K3Y", "order_id": "A1", "merchant_usn": "7"},
            "merchantkey": "K3Y",
            "MERCHANT_KEY": "K3Y",
            "do_recharge_request": {
                "phone": {"ddd": "11", "number": "987654321"},
                "payment": {"card": {"number": "4111111111111111", "security_code": "123",
                                      "expiry_date": "1230", "token": null},
                            "amount": "1000"},
                "answers": [{"code": "1", "pin": "9999"}]
            }
        });
        let kept = redact(sent);
        let text = kept.to_string();
        for secret in ["K3Y", "4111111111111111", "\"123\"", "1230", "9999"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert_eq!(kept["begin_recharge_request"]["order_id"], "A1");
        assert_eq!(kept["begin_recharge_request"]["merchant_key"], REDACTED);
        assert_eq!(kept["do_recharge_request"]["phone"]["number"], "987654321");
        assert_eq!(kept["do_recharge_request"]["payment"]["amount"], "1000");
        assert_eq!(
            kept["do_recharge_request"]["payment"]["card"]["token"],
            Value::Null
        );
        assert_eq!(kept["do_recharge_request"]["answers"][0]["code"], "1");
    }

    #[test]
    fn anything_without_secrets_is_unchanged() {
        let plain = json!({"nit": "abc", "list": [1, "two", {"three": 3}], "n": null});
        assert_eq!(redact(plain.clone()), plain);
    }
}
