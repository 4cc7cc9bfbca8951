//! `used_payment_methods` (seed 001, "Sending the used_payment_methods field"; seed 003 on the
//! confirmation): how the sale was paid, one wire string per payment method.
//!
//! The grammar, exactly (seed 001 gives `TypeN:AmountN:IDCollectionN1:CollectionDataN1-...`
//! and says nothing more; what it leaves open is decided here and marked [UNKNOWN]):
//!
//! ```text
//! entry     = type ":" amount [ ":" collected *( "-" collected ) ]
//! type      = 2DIGIT                        ; `99` = "Other forms"; the other codes are [UNKNOWN]
//! amount    = %x31-39 *10DIGIT              ; cents, two implied decimals, 1 to 12 digits, no
//!                                           ; leading zero (one spelling per amount)
//! collected = id ":" data
//! id        = 1*10DIGIT                     ; [UNKNOWN] width: kept as sent
//! data      = 1*128(any char but ":" "-" and controls) ; [UNKNOWN] width and charset
//! ```
//!
//! `:` and `-` are the separators, so a `data` holding one could not be read back: it is
//! refused rather than built into an ambiguous string. With these rules parsing and building
//! are exact inverses (`tests/properties/payment_methods.rs`).
//!
//! The rules across a list (at most `payment_methods.max` entries, amounts summing to the
//! transaction's amount: "the consistency ... must be done by the store") are
//! [`check_list`].

use std::fmt;

use super::format::{Charset, FieldError, Format, FormatError};
use super::ids::carat_string;
use super::recharge::AmountCents;

carat_string!(
    /// A payment method's type: `= 2 N` (`99` = "Other forms").
    MethodType,
    Format::exactly(2, Charset::Numeric)
);
carat_string!(
    /// The id of a field the store collected for a payment method: digits ([UNKNOWN] width;
    /// at most 10 assumed).
    CollectedId,
    Format::between(1, 10, Charset::Numeric)
);
carat_string!(
    /// What the store collected for that field: printable, without the separators `:` and
    /// `-` ([UNKNOWN] width; at most 128 assumed, as `confirmation_data`).
    CollectedData,
    Format::between(1, 128, Charset::Text),
    rule = |s: &str| {
        if s.contains([':', '-']) {
            Err(FormatError::Rule(
                "must not contain ':' or '-' (the separators of used_payment_methods)",
            ))
        } else {
            Ok(())
        }
    }
);

/// One field collected for a payment method.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Collected {
    pub id: CollectedId,
    pub data: CollectedData,
}

/// One payment method used to pay the sale, and how much of it it paid.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsedPaymentMethod {
    #[serde(rename = "type")]
    pub method_type: MethodType,
    pub amount: AmountCents,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub collected: Vec<Collected>,
}

/// Why a wire string is not an entry: the part named as in the grammar.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{part} {reason}")]
pub struct WireError {
    /// `type`, `amount`, `collected[i]`, `collected[i].id`, `collected[i].data`.
    pub part: String,
    pub reason: String,
}

impl WireError {
    fn new(part: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            part: part.into(),
            reason: reason.to_string(),
        }
    }
}

impl UsedPaymentMethod {
    /// `Type:Amount[:Id:Data-Id:Data...]`.
    pub fn to_wire(&self) -> String {
        let mut wire = format!("{}:{}", self.method_type, self.amount.to_wire());
        for (i, c) in self.collected.iter().enumerate() {
            wire.push(if i == 0 { ':' } else { '-' });
            wire.push_str(c.id.as_str());
            wire.push(':');
            wire.push_str(c.data.as_str());
        }
        wire
    }

    /// Reads one entry exactly as [`to_wire`](Self::to_wire) builds it.
    pub fn from_wire(entry: &str) -> Result<Self, WireError> {
        let mut parts = entry.splitn(3, ':');
        let method_type = MethodType::parse(parts.next().unwrap_or_default())
            .map_err(|e| WireError::new("type", e))?;
        let amount = parts
            .next()
            .ok_or_else(|| WireError::new("amount", "is missing (Type:Amount)"))?;
        let amount = wire_amount(amount).map_err(|e| WireError::new("amount", e))?;
        let mut collected = Vec::new();
        if let Some(rest) = parts.next() {
            for (i, pair) in rest.split('-').enumerate() {
                let (id, data) = pair
                    .split_once(':')
                    .ok_or_else(|| WireError::new(format!("collected[{i}]"), "must be Id:Data"))?;
                collected.push(Collected {
                    id: CollectedId::parse(id)
                        .map_err(|e| WireError::new(format!("collected[{i}].id"), e))?,
                    data: CollectedData::parse(data)
                        .map_err(|e| WireError::new(format!("collected[{i}].data"), e))?,
                });
            }
        }
        Ok(Self {
            method_type,
            amount,
            collected,
        })
    }
}

/// An amount as the wire spells it: 1 to 12 digits, no leading zero (so that each amount has
/// one spelling and a parsed entry builds back to the same string).
fn wire_amount(value: &str) -> Result<AmountCents, String> {
    if value.starts_with('0') {
        return Err("must be a positive number of cents without leading zeros".into());
    }
    AmountCents::from_wire(value).map_err(|e| e.to_string())
}

/// The wire strings of `methods`, in order.
pub fn to_wire_list(methods: &[UsedPaymentMethod]) -> Vec<String> {
    methods.iter().map(UsedPaymentMethod::to_wire).collect()
}

/// The rules across the list, each error naming `field` (or an entry of it):
/// at least one entry, at most `max` of them (no check when Carat never announced a max), and
/// amounts summing to `total`, the transaction's amount.
pub fn check_list(
    field: &str,
    methods: &[UsedPaymentMethod],
    max: Option<usize>,
    total: AmountCents,
) -> Result<(), FieldError> {
    if methods.is_empty() {
        return Err(FieldError::new(
            field.to_owned(),
            "must list at least one payment method, or be left out",
        ));
    }
    if let Some(max) = max.filter(|&m| methods.len() > m) {
        return Err(FieldError::new(
            field.to_owned(),
            format!(
                "lists {} payment methods; Carat Portal allows at most {max} \
                 (payment_methods.max)",
                methods.len()
            ),
        ));
    }
    let sum = methods
        .iter()
        .fold(0u64, |sum, m| sum.saturating_add(m.amount.get()));
    if sum != total.get() {
        return Err(FieldError::new(
            field.to_owned(),
            format!(
                "amounts sum to {sum} cents; they must sum to the transaction's amount, {} cents",
                total.get()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn method(wire: &str) -> UsedPaymentMethod {
        UsedPaymentMethod::from_wire(wire).unwrap()
    }

    fn refused(wire: &str) -> String {
        UsedPaymentMethod::from_wire(wire).unwrap_err().to_string()
    }

    #[test]
    fn reads_and_builds_the_seed_example() {
        let wire = "05:2000:1:5-2:123456789-3:0520200001A6";
        let m = method(wire);
        assert_eq!(m.method_type.as_str(), "05");
        assert_eq!(m.amount.get(), 2000);
        assert_eq!(m.collected.len(), 3);
        assert_eq!(m.collected[2].id.as_str(), "3");
        assert_eq!(m.collected[2].data.as_str(), "0520200001A6");
        assert_eq!(m.to_wire(), wire);
        assert_eq!(method("00:3000").to_wire(), "00:3000");
        assert!(method("00:3000").collected.is_empty());
    }

    #[test]
    fn every_wire_error_names_its_part() {
        let cases = [
            ("", "type must not be empty"),
            ("5:100", "type must be exactly 2"),
            ("0a:100", "type must be exactly 2"),
            ("05", "amount is missing"),
            ("05:", "amount must not be empty"),
            (
                "05:0100",
                "amount must be a positive number of cents without leading",
            ),
            (
                "05:0",
                "amount must be a positive number of cents without leading",
            ),
            ("05:1,5", "amount must be"),
            ("05:1234567890123", "amount must be"),
            ("05:100:", "collected[0] must be Id:Data"),
            ("05:100:1", "collected[0] must be Id:Data"),
            ("05:100:1:5-", "collected[1] must be Id:Data"),
            ("05:100:x:5", "collected[0].id must be"),
            ("05:100::5", "collected[0].id must not be empty"),
            ("05:100:12345678901:5", "collected[0].id must be"),
            ("05:100:1:", "collected[0].data must not be empty"),
            (
                "05:100:1:a:b",
                "collected[0].data must not contain ':' or '-'",
            ),
            ("05:100:1:a\u{7}", "collected[0].data must be"),
        ];
        for (wire, expected) in cases {
            let error = refused(wire);
            assert!(error.starts_with(expected), "{wire:?}: {error}");
        }
    }

    #[test]
    fn json_names_the_field_and_refuses_separators() {
        let ok: UsedPaymentMethod = serde_json::from_value(
            json!({"type": "05", "amount": 2000, "collected": [{"id": "1", "data": "5"}]}),
        )
        .unwrap();
        assert_eq!(ok.to_wire(), "05:2000:1:5");
        assert_eq!(
            serde_json::to_value(method("99:150")).unwrap(),
            json!({"type": "99", "amount": 150})
        );
        for bad in [
            json!({"type": "5", "amount": 1}),
            json!({"type": "05", "amount": 0}),
            json!({"type": "05", "amount": "100"}),
            json!({"type": "05", "amount": 1, "collected": [{"id": "1", "data": "a-b"}]}),
            json!({"type": "05", "amount": 1, "collected": [{"id": "1", "data": "a:b"}]}),
            json!({"type": "05", "amount": 1, "collected": [{"id": "a", "data": "b"}]}),
            json!({"type": "05", "amount": 1, "extra": 1}),
        ] {
            assert!(
                serde_json::from_value::<UsedPaymentMethod>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_list_rules() {
        let total = AmountCents::new(5000).unwrap();
        let two = [method("00:3000"), method("05:2000:1:5")];
        assert_eq!(to_wire_list(&two), ["00:3000", "05:2000:1:5"]);
        assert!(check_list("upm", &two, Some(2), total).is_ok());
        // No max announced: no max check.
        assert!(check_list("upm", &two, None, total).is_ok());
        let too_many = check_list("upm", &two, Some(1), total).unwrap_err();
        assert_eq!(too_many.field, "upm");
        assert!(too_many.reason.contains("at most 1"), "{too_many}");
        let short = check_list("upm", &two[..1], Some(2), total).unwrap_err();
        assert!(short.reason.contains("sum to 3000 cents"), "{short}");
        assert!(short.reason.contains("5000 cents"), "{short}");
        let empty = check_list("upm", &[], Some(2), total).unwrap_err();
        assert!(empty.reason.contains("at least one"), "{empty}");
        let huge = [method("00:999999999999"), method("00:999999999999")];
        assert!(check_list("upm", &huge, None, total).is_err());
    }
}
