//! The storefront's choice of a TV package, which Carat asked for (`resubmit.rs`).

use serde::Deserialize;

use super::CardChoice;
use carat_domain::recharge::AnswerText;

/// The storefront's choice among the TV packages Carat offered.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TvChoice {
    /// Sent as answer 126's description: `< 200 AN`.
    pub tv_package: AnswerText,
    /// The paying card again, when the effectuation carried a payment (`payment.card`'s body).
    #[serde(default)]
    pub payment_card: Option<CardChoice>,
}

impl TvChoice {
    /// Whether an effectuation body is a TV package choice: an object with `tv_package`. Any
    /// other body, unreadable ones included, is read (and refused) as an effectuation.
    pub fn is_named_in(body: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(body)
            .is_ok_and(|v| v.get("tv_package").is_some())
    }
}
