//! The validated field types of `domain`: accepted exactly when the documented format holds,
//! and kept as given.

use std::fmt::Debug;

use carat_domain::format::{Charset, Format};
use carat_domain::recharge::{AnswerCode, AnswerText};
use carat_domain::{
    AmountCents, AmountKey, BranchCode, Ddd, DealerCode, DealerTypeCode, GeneralHash, MerchantId,
    MerchantUsn, Nit, OrderId, PhoneNumber,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::oracle;
use crate::strategies::{arbitrary_text, ascii_alphanumeric, ascii_digit, near, text_char};

/// `parse` and deserialization both accept `s` exactly when `rule` says, and an accepted value
/// is `s` itself.
fn agrees<T, E>(
    s: &str,
    rule: bool,
    parse: impl Fn(&str) -> Result<T, E>,
) -> Result<(), TestCaseError>
where
    T: AsRef<str> + Serialize + DeserializeOwned,
    E: Debug,
{
    let parsed = parse(s);
    prop_assert_eq!(
        parsed.is_ok(),
        rule,
        "parse({:?}) answered {:?}",
        s,
        parsed.as_ref().err()
    );
    if let Ok(value) = &parsed {
        prop_assert_eq!(value.as_ref(), s);
        prop_assert_eq!(
            serde_json::to_value(value).unwrap(),
            Value::String(s.to_owned())
        );
    }
    let deserialized = serde_json::from_value::<T>(Value::String(s.to_owned()));
    prop_assert_eq!(deserialized.is_ok(), rule, "deserializing {:?}", s);
    Ok(())
}

/// u64s around the interesting boundaries (0, 1, 12 digits, 13 digits, the type's end).
fn around_twelve_digits() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(1),
        999_999_999_990..=1_000_000_000_010u64,
        Just(u64::MAX),
        any::<u64>(),
        0..1_000_000u64,
    ]
}

/// A JSON number as a storefront might send it (or not quite), and whether it is a whole
/// number of cents from 1 to 999999999999 (`< 12 N`, positive).
fn json_amount() -> impl Strategy<Value = (String, bool)> {
    prop_oneof![
        around_twelve_digits().prop_map(|n| (n.to_string(), (1..=999_999_999_999).contains(&n))),
        (i64::MIN..0).prop_map(|n| (n.to_string(), false)),
        any::<f64>().prop_map(|f| (format!("{f:?}"), false)),
        (1..=999_999_999_999u64).prop_map(|n| (format!("{n}.0"), false)),
        (1..=999_999_999_999u64).prop_map(|n| (format!("\"{n}\""), false)),
        Just(("1e3".to_owned(), false)),
        Just(("null".to_owned(), false)),
    ]
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn nit_is_64_ascii_alphanumerics(s in near(ascii_alphanumeric(), 64)) {
        agrees(&s, oracle::alphanumerics_exactly(&s, 64), |s| Nit::parse(s))?;
    }

    #[test]
    fn order_id_is_up_to_20_ascii_alphanumerics(s in near(ascii_alphanumeric(), 20)) {
        agrees(&s, oracle::alphanumerics_up_to(&s, 20), |s| OrderId::parse(s))?;
    }

    #[test]
    fn merchant_id_is_up_to_15_ascii_alphanumerics(s in near(ascii_alphanumeric(), 15)) {
        agrees(&s, oracle::alphanumerics_up_to(&s, 15), |s| MerchantId::parse(s))?;
    }

    #[test]
    fn general_hash_is_16_ascii_alphanumerics(s in near(ascii_alphanumeric(), 16)) {
        agrees(&s, oracle::alphanumerics_exactly(&s, 16), |s| GeneralHash::parse(s))?;
    }

    #[test]
    fn amount_key_is_up_to_10_ascii_alphanumerics(s in near(ascii_alphanumeric(), 10)) {
        agrees(&s, oracle::alphanumerics_up_to(&s, 10), |s| AmountKey::parse(s))?;
    }

    #[test]
    fn answer_code_is_up_to_20_ascii_alphanumerics(s in near(ascii_alphanumeric(), 20)) {
        agrees(&s, oracle::alphanumerics_up_to(&s, 20), |s| AnswerCode::parse(s))?;
    }

    #[test]
    fn answer_text_is_up_to_200_characters_without_controls(s in near(text_char(), 200)) {
        agrees(&s, oracle::text_up_to(&s, 200), |s| AnswerText::parse(s))?;
    }

    #[test]
    fn dealer_code_is_up_to_3_digits(s in near(ascii_digit(), 3)) {
        agrees(&s, oracle::digits_up_to(&s, 3), |s| DealerCode::parse(s))?;
    }

    #[test]
    fn dealer_type_code_is_up_to_2_digits(s in near(ascii_digit(), 2)) {
        agrees(&s, oracle::digits_up_to(&s, 2), |s| DealerTypeCode::parse(s))?;
    }

    #[test]
    fn branch_code_is_11_digits(s in near(ascii_digit(), 11)) {
        agrees(&s, oracle::digits_exactly(&s, 11), |s| BranchCode::parse(s))?;
    }

    #[test]
    fn ddd_is_an_assigned_area_code(s in near(ascii_digit(), 2)) {
        prop_assert_eq!(Ddd::parse(s.as_str()).is_ok(), oracle::assigned_ddd(&s), "{:?}", s);
    }

    #[test]
    fn every_two_digit_string_is_judged_as_anatel_assigns(n in 0u8..100) {
        let s = format!("{n:02}");
        prop_assert_eq!(Ddd::parse(s.as_str()).is_ok(), oracle::assigned_ddd(&s), "{}", s);
    }

    #[test]
    fn phone_number_is_8_or_9_digits(s in near(ascii_digit(), 9)) {
        let expected = oracle::digits_between(&s, 8, 9);
        prop_assert_eq!(PhoneNumber::parse(s.as_str()).is_ok(), expected, "{:?}", s);
    }

    #[test]
    fn merchant_usn_text_is_up_to_12_digits(s in near(ascii_digit(), 12)) {
        let parsed = MerchantUsn::parse(&s);
        prop_assert_eq!(parsed.is_ok(), oracle::digits_up_to(&s, 12), "{:?}", s);
        if let Ok(usn) = parsed {
            prop_assert_eq!(usn.get(), s.parse::<u64>().unwrap());
        }
    }

    #[test]
    fn merchant_usn_number_has_at_most_12_digits(n in around_twelve_digits()) {
        let made = MerchantUsn::new(n);
        prop_assert_eq!(made.is_ok(), n.to_string().len() <= 12, "{}", n);
        if let Ok(usn) = made {
            prop_assert_eq!(usn.get(), n);
            prop_assert_eq!(usn.to_string(), n.to_string());
        }
    }

    #[test]
    fn amount_is_1_to_12_digits_of_cents(n in around_twelve_digits()) {
        let made = AmountCents::new(n);
        prop_assert_eq!(made.is_ok(), n >= 1 && n.to_string().len() <= 12, "{}", n);
        if let Ok(amount) = made {
            prop_assert_eq!(amount.get(), n);
            prop_assert_eq!(amount.to_wire(), n.to_string());
        }
    }

    #[test]
    fn amount_on_the_wire_is_up_to_12_digits_not_all_zeros(s in near(ascii_digit(), 12)) {
        let read = AmountCents::from_wire(&s);
        let rule = oracle::digits_up_to(&s, 12) && s.bytes().any(|b| b != b'0');
        prop_assert_eq!(read.is_ok(), rule, "{:?}", s);
        if let Ok(amount) = read {
            prop_assert_eq!(amount.get(), s.parse::<u64>().unwrap());
        }
    }

    #[test]
    fn amount_in_json_is_a_whole_positive_number_of_cents((json, rule) in json_amount()) {
        let read = serde_json::from_str::<AmountCents>(&json);
        prop_assert_eq!(read.is_ok(), rule, "{}", json);
    }

    // The notation checker itself, for any length rule and charset.
    #[test]
    fn carat_notation_checker_follows_the_notation(
        (format, (min, max), s) in (1..=12usize, 0..3usize, 0..3usize).prop_flat_map(|(n, charset, rule)| {
            let charset = [Charset::Numeric, Charset::Alphanumeric, Charset::Text][charset];
            // The bounds the oracle reads: exactly n, at most n, or n to n + 2.
            let (format, bounds) = match rule {
                0 => (Format::exactly(n, charset), (n, n)),
                1 => (Format::at_most(n, charset), (1, n)),
                _ => (Format::between(n, n + 2, charset), (n, n + 2)),
            };
            let text = prop_oneof![
                near(ascii_digit(), n),
                near(ascii_alphanumeric(), n + 1),
                near(text_char(), n),
                arbitrary_text(n + 3),
            ];
            (Just(format), Just(bounds), text)
        })
    ) {
        let length = s.chars().count();
        let length_ok = length >= 1 && (min..=max).contains(&length);
        let charset_ok = match format.charset {
            Charset::Numeric => oracle::ascii_digits(&s),
            Charset::Alphanumeric => oracle::ascii_alphanumerics(&s),
            Charset::Text => oracle::text_up_to(&s, usize::MAX),
        };
        prop_assert_eq!(format.check(&s).is_ok(), length_ok && charset_ok, "{} on {:?}", format, s);
    }
}
