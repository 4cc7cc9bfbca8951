//! Code and name parsing: Carat's transaction statuses, the recharge's states, the recharge
//! types and the pending-confirmation policy. Known exactly when listed, case and all.

use carat_domain::{CaratStatus, PendingConfirmationPolicy, RechargeStatus, RechargeType};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde::de::DeserializeOwned;

use crate::strategies::{arbitrary_text, tricky_char};

/// Carat's documented transaction statuses.
const CARAT_CODES: [&str; 15] = [
    "NOV", "INV", "PPC", "PPN", "PEN", "CON", "NEG", "ERR", "BLQ", "EXP", "EST", "AGU", "ABA",
    "CAN", "RET",
];

/// The recharge's states as the API and the database name them (docs/architecture.md).
const STATES: [&str; 10] = [
    "created",
    "started",
    "effectuating",
    "pending_confirmation",
    "confirming",
    "undoing",
    "confirmed",
    "undone",
    "failed",
    "expired",
];

const RECHARGE_TYPES: [&str; 3] = ["normal", "others", "invoice"];

/// `parse`, `TryFrom<String>` and deserialization all know `s` exactly when it is one of
/// `names`, and a known value is named as it was given.
fn known_exactly_when_listed<T>(
    s: &str,
    names: &[&str],
    parse: fn(&str) -> Option<T>,
    name_of: fn(T) -> &'static str,
) -> Result<(), TestCaseError>
where
    T: Copy + TryFrom<String> + DeserializeOwned,
{
    let listed = names.contains(&s);
    let parsed = parse(s);
    prop_assert_eq!(parsed.is_some(), listed, "{:?}", s);
    if let Some(value) = parsed {
        prop_assert_eq!(name_of(value), s);
    }
    prop_assert_eq!(T::try_from(s.to_owned()).is_ok(), listed);
    let json = serde_json::Value::String(s.to_owned());
    prop_assert_eq!(serde_json::from_value::<T>(json).is_ok(), listed);
    Ok(())
}

/// One of `words`, or a near miss of one (other case, a character more or less, a tricky
/// character added), or anything.
fn near_word(words: &'static [&'static str]) -> BoxedStrategy<String> {
    let word = proptest::sample::select(words);
    prop_oneof![
        3 => word.clone().prop_map(str::to_owned),
        1 => word.clone().prop_map(str::to_uppercase),
        1 => word.clone().prop_map(str::to_lowercase),
        1 => word.clone().prop_map(|w| w[..w.len() - 1].to_owned()),
        1 => (word, tricky_char(), any::<bool>())
            .prop_map(|(w, c, front)| if front { format!("{c}{w}") } else { format!("{w}{c}") }),
        1 => arbitrary_text(24),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(crate::config())]

    #[test]
    fn carat_status_keeps_any_code_and_knows_exactly_the_documented_ones(
        s in near_word(&CARAT_CODES)
    ) {
        let status = CaratStatus::parse(&s);
        prop_assert_eq!(status.as_str(), s.as_str());
        let known = !matches!(status, CaratStatus::Other(_));
        prop_assert_eq!(known, CARAT_CODES.contains(&s.as_str()), "{:?}", s);
    }

    #[test]
    fn recharge_status_is_one_of_the_ten_states(s in near_word(&STATES)) {
        known_exactly_when_listed(&s, &STATES, RechargeStatus::parse, RechargeStatus::as_str)?;
    }

    #[test]
    fn recharge_type_is_normal_others_or_invoice(s in near_word(&RECHARGE_TYPES)) {
        known_exactly_when_listed(&s, &RECHARGE_TYPES, RechargeType::parse, RechargeType::as_str)?;
    }

    #[test]
    fn pending_confirmation_policy_is_undo_or_confirm(s in near_word(&["undo", "confirm"])) {
        let parsed = PendingConfirmationPolicy::parse(&s);
        prop_assert_eq!(parsed.is_some(), s == "undo" || s == "confirm", "{:?}", s);
        if let Some(policy) = parsed {
            prop_assert_eq!(policy.confirms(), s == "confirm");
        }
    }
}
