//! `used_payment_methods` entries (`domain::payment_methods`): the codec is lossless both ways.
//! Every valid value builds to a string that parses back to it; every string that parses
//! builds back to itself, whatever near miss of the grammar it is.

use carat_domain::AmountCents;
use carat_domain::payment_methods::{
    Collected, CollectedData, CollectedId, MethodType, UsedPaymentMethod,
};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::strategies::{arbitrary_text, ascii_digit, text_char, tricky_char, valid};

/// Printable characters other than the separators: what `data` may hold.
fn data_char() -> impl Strategy<Value = char> + Clone {
    text_char().prop_filter("not a separator", |c| *c != ':' && *c != '-')
}

fn method() -> impl Strategy<Value = UsedPaymentMethod> {
    let collected =
        (valid(ascii_digit(), 1, 10), valid(data_char(), 1, 128)).prop_map(|(id, data)| {
            Collected {
                id: CollectedId::parse(id).unwrap(),
                data: CollectedData::parse(data).unwrap(),
            }
        });
    (
        valid(ascii_digit(), 2, 2),
        1..=AmountCents::MAX,
        proptest::collection::vec(collected, 0..4),
    )
        .prop_map(|(kind, cents, collected)| UsedPaymentMethod {
            method_type: MethodType::parse(kind).unwrap(),
            amount: AmountCents::new(cents).unwrap(),
            collected,
        })
}

/// A valid entry's string with one change: a character inserted (the separators, a zero,
/// a letter, or any tricky one), one removed, or one replaced; now and then arbitrary text.
fn near_entry() -> impl Strategy<Value = String> {
    let inserted = prop_oneof![
        proptest::sample::select(vec![':', '-', '0', '9', 'a', ' ', '\n']),
        tricky_char(),
    ];
    let mutated = (method(), any::<Index>(), inserted, 0..3u8).prop_map(|(m, at, c, how)| {
        let mut chars: Vec<char> = m.to_wire().chars().collect();
        match how {
            0 => chars.insert(at.index(chars.len() + 1), c),
            1 => {
                chars.remove(at.index(chars.len()));
            }
            _ => {
                let i = at.index(chars.len());
                chars[i] = c;
            }
        }
        chars.into_iter().collect::<String>()
    });
    prop_oneof![4 => mutated, 1 => arbitrary_text(40)]
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn build_then_parse_is_the_identity(m in method()) {
        let wire = m.to_wire();
        prop_assert_eq!(UsedPaymentMethod::from_wire(&wire), Ok(m.clone()));
        // The storefront's JSON shape round-trips too.
        let json = serde_json::to_value(&m).unwrap();
        prop_assert_eq!(serde_json::from_value::<UsedPaymentMethod>(json).unwrap(), m);
    }

    #[test]
    fn parse_then_build_is_the_identity(s in near_entry()) {
        if let Ok(m) = UsedPaymentMethod::from_wire(&s) {
            prop_assert_eq!(m.to_wire(), s);
        }
    }
}
